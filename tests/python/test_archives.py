"""Reading inside archive objects (WebDataset-style shards) with the SDK: one member by
`archpath`, members selected by `archregx`/`archmode` as a TAR, and `list_archive`
(`LsArchDir`); TAR, TAR.GZ and ZIP; through the proxy over three targets and on a lone
target."""

import io
import tarfile
import zipfile

import pytest
from aistore.sdk.archive_config import ArchiveConfig, ArchiveMode
from aistore.sdk.errors import AISError
from aistore.sdk.list_object_flag import ListObjectFlag


MEMBERS = {
    "s001/img.jpg": b"JPEG-one" * 100,
    "s001/cls.txt": b"3",
    "s002/img.jpg": b"JPEG-two" * 200,
    "s002/cls.txt": b"7",
}


def tar_bytes(gz=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as t:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in MEMBERS.items():
            z.writestr(name, data)
    return buf.getvalue()


def members_of_tar(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()}


def test_members_by_path_pattern_and_listing(client):
    bck = client.bucket("shards")
    bck.create()
    shards = {"train-0.tar": tar_bytes(), "train-1.tar.gz": tar_bytes(gz=True), "train-2.zip": zip_bytes()}
    for name, data in shards.items():
        bck.object(name).get_writer().put_content(data)
    bck.object("notes.txt").get_writer().put_content(b"plain text")
    for name in shards:
        obj = bck.object(name)
        one = obj.get_reader(archive_config=ArchiveConfig(archpath="s002/img.jpg")).read_all()
        assert one == MEMBERS["s002/img.jpg"], name
        for mode, pattern, want in [
            (ArchiveMode.SUFFIX, ".jpg", {"s001/img.jpg", "s002/img.jpg"}),
            (ArchiveMode.PREFIX, "s001/", {"s001/img.jpg", "s001/cls.txt"}),
            (ArchiveMode.WDSKEY, "s002/cls", {"s002/cls.txt"}),
            (ArchiveMode.REGEXP, r"cls\.txt$", {"s001/cls.txt", "s002/cls.txt"}),
            (ArchiveMode.SUBSTR, "img", {"s001/img.jpg", "s002/img.jpg"}),
        ]:
            got = members_of_tar(obj.get_reader(archive_config=ArchiveConfig(regex=pattern, mode=mode)).read_all())
            assert got == {k: MEMBERS[k] for k in want}, (name, mode, pattern)
        with pytest.raises(AISError) as e:
            obj.get_reader(archive_config=ArchiveConfig(archpath="s009/none")).read_all()
        assert e.value.status_code == 404
        # The whole object is still the whole object.
        assert obj.get_reader().read_all() == shards[name]
    with pytest.raises(AISError) as e:
        bck.object("notes.txt").get_reader(archive_config=ArchiveConfig(archpath="x")).read_all()
    assert e.value.status_code == 400
    with pytest.raises(AISError) as e:
        bck.object("train-0.tar").get_reader(archive_config=ArchiveConfig(regex="(", mode=ArchiveMode.REGEXP)).read_all()
    assert e.value.status_code == 400

    listed = bck.list_archive("train-1.tar.gz", include_archive_obj=False)
    assert {e.name: e.size for e in listed} == {f"train-1.tar.gz/{k}": len(v) for k, v in MEMBERS.items()}
    # Members count against the page: pages of 2 entries, resumed inside a shard, and
    # every object and member listed exactly once, each shard's members after it.
    names, token = [], ""
    while True:
        page = bck.list_objects(page_size=2, flags=[ListObjectFlag.ARCH_DIR], continuation_token=token)
        assert len(page.entries) <= 2, [e.name for e in page.entries]
        names += [e.name for e in page.entries]
        token = page.continuation_token
        if not token:
            break
    want = ["notes.txt"]
    for shard in sorted(shards):
        want += [shard] + [f"{shard}/{k}" for k in MEMBERS]
    assert names == want, names


def test_member_of_a_rewritten_shard_is_read_from_the_new_shard(client):
    """Members are found through an index of the shard, learned once per version: a shard
    written again with other members (other offsets) is read as it is now."""
    bck = client.bucket("rewritten")
    bck.create()
    obj = bck.object("s.tar")
    obj.get_writer().put_content(tar_bytes())
    member = ArchiveConfig(archpath="s002/cls.txt")
    assert obj.get_reader(archive_config=member).read_all() == b"7"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in [("pad.bin", b"x" * 5000), ("s002/cls.txt", b"new class")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    obj.get_writer().put_content(buf.getvalue())
    assert obj.get_reader(archive_config=member).read_all() == b"new class"
    with pytest.raises(AISError) as e:
        obj.get_reader(archive_config=ArchiveConfig(archpath="s001/img.jpg")).read_all()
    assert e.value.status_code == 404
