"""Bucket summary and info as AIStore's SDK runs them (an asynchronous job polled until
done), through the proxy over three targets and on a lone target."""

import os

import pytest
import requests
from aistore.sdk.errors import AISError


def test_summary_and_info_count_objects_and_bytes(client):
    endpoint = client.test_url
    bck = client.bucket("summ")
    bck.create()
    sizes = {}
    for i in range(40):
        name = f"{'img' if i % 4 else 'txt'}/o{i}"
        data = os.urandom(100 + 1000 * i)
        bck.object(name).get_writer().put_content(data)
        sizes[name] = len(data)
    s = bck.summary()
    assert s["name"] == "summ" and s["provider"] == "ais"
    assert int(s["ObjCount"]["obj_count_present"]) == 40
    assert int(s["TotalSize"]["size_all_present_objs"]) == sum(sizes.values())
    assert s["ObjSize"]["obj_min_size"] == min(sizes.values()) and s["ObjSize"]["obj_max_size"] == max(sizes.values())
    assert s["ObjSize"]["obj_avg_size"] == sum(sizes.values()) // 40
    assert int(s["TotalSize"]["size_on_disk"]) >= sum(sizes.values())
    assert int(s["TotalSize"]["total_disks_size"]) > 0 and 0 <= s["used_pct"] <= 100

    only_txt = bck.summary(prefix="txt/")
    txt = [v for k, v in sizes.items() if k.startswith("txt/")]
    assert int(only_txt["ObjCount"]["obj_count_present"]) == len(txt)
    assert int(only_txt["TotalSize"]["size_all_present_objs"]) == sum(txt)

    props, info = bck.info()
    assert '"provider":"ais"' in props.replace(" ", "")
    assert int(info["ObjCount"]["obj_count_present"]) == 40
    props, info = bck.info(prefix="img/")
    assert int(info["ObjCount"]["obj_count_present"]) == 40 - len(txt)

    # A job ID nobody started is 404; a missing bucket too.
    r = requests.get(f"{endpoint}/v1/buckets/summ",
                     json={"action": "summary-bck", "value": {"uuid": "nosuchjob", "prefix": ""}}, timeout=10)
    assert r.status_code == 404, r.text
    with pytest.raises(AISError):
        client.bucket("absent").summary()
