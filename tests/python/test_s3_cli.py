"""Stock S3 command-line clients against the proxy: the aws CLI (s3 and s3api), s5cmd and rclone.
Each is installed into the test venv by tests/run.sh; a missing client fails the test."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from nodes import start_cluster
from s3_helpers import KEY, SECRET, md5

VENV_BIN = pathlib.Path(sys.executable).parent


def tool(name):
    path = VENV_BIN / name
    assert path.exists(), f"{name} is not installed in the test venv ({path})"
    return str(path)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    p, targets = start_cluster(tmp_path_factory.mktemp("cli"), proxy_extra=["--s3-access-key", KEY, "--s3-secret-key", SECRET],
                               target_extra=["--s3-access-key", KEY, "--s3-secret-key", SECRET])
    yield p
    for n in [p] + targets:
        n.proc.kill()
        n.proc.wait()


def env(tmp_path):
    e = dict(os.environ)
    e.update(
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-creds"),
        HOME=str(tmp_path),
    )
    return e


def run(args, tmp_path, check=True, binary=False):
    r = subprocess.run(args, env=env(tmp_path), capture_output=True, text=not binary, timeout=300)
    if check:
        assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
    return r


def test_aws_cli(proxy, tmp_path):
    aws = [tool("aws"), "--endpoint-url", proxy.url + "/s3"]
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {"one.txt": b"one", "sub/two.bin": os.urandom(5000), "big.bin": os.urandom(20 * 1024 * 1024)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    run(aws + ["s3", "mb", "s3://cli"], tmp_path)
    run(aws + ["s3", "cp", str(src / "big.bin"), "s3://cli/big.bin", "--no-progress"], tmp_path)  # multipart
    run(aws + ["s3", "sync", str(src), "s3://cli/tree", "--no-progress"], tmp_path)
    ls = run(aws + ["s3", "ls", "--recursive", "s3://cli"], tmp_path).stdout
    assert sorted(line.split()[-1] for line in ls.splitlines()) == sorted(
        ["big.bin", "tree/big.bin", "tree/one.txt", "tree/sub/two.bin"]
    )
    top = run(aws + ["s3", "ls", "s3://cli/tree/"], tmp_path).stdout
    assert "PRE sub/" in top
    head = json.loads(run(aws + ["s3api", "head-object", "--bucket", "cli", "--key", "tree/one.txt"], tmp_path).stdout)
    assert head["ContentLength"] == 3 and head["ETag"] == f'"{md5(b"one")}"'
    again = run(aws + ["s3", "sync", str(src), "s3://cli/tree", "--no-progress"], tmp_path).stdout
    assert again.strip() == "", f"a second sync copies nothing: {again}"
    dst = tmp_path / "dst"
    run(aws + ["s3", "cp", "--recursive", "s3://cli/tree", str(dst), "--no-progress"], tmp_path)
    for name, data in files.items():
        assert (dst / name).read_bytes() == data
    out = json.loads(
        run(aws + ["s3api", "list-objects-v2", "--bucket", "cli", "--prefix", "tree/", "--delimiter", "/"], tmp_path).stdout
    )
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["tree/sub/"]
    r = run(aws + ["s3", "rb", "s3://cli"], tmp_path, check=False)
    assert r.returncode != 0 and "BucketNotEmpty" in r.stderr
    run(aws + ["s3", "rm", "--recursive", "s3://cli"], tmp_path)
    run(aws + ["s3", "rb", "s3://cli"], tmp_path)
    assert "cli" not in run(aws + ["s3", "ls"], tmp_path).stdout


def test_s5cmd(proxy, tmp_path):
    s5 = [tool("s5cmd"), "--endpoint-url", proxy.url + "/s3"]
    data = os.urandom(300_000)
    (tmp_path / "f.bin").write_bytes(data)
    run(s5 + ["mb", "s3://s5"], tmp_path)
    run(s5 + ["cp", str(tmp_path / "f.bin"), "s3://s5/dir/f.bin"], tmp_path)
    cmds = tmp_path / "cmds.txt"
    cmds.write_text("".join(f"cp {tmp_path / 'f.bin'} s3://s5/many/{i}\n" for i in range(20)))
    run(s5 + ["--numworkers", "8", "run", str(cmds)], tmp_path)
    ls = run(s5 + ["ls", "s3://s5/many/*"], tmp_path).stdout
    assert len(ls.splitlines()) == 20
    (tmp_path / "down").mkdir()
    run(s5 + ["cp", "s3://s5/dir/f.bin", str(tmp_path / "down" / "f.bin")], tmp_path)
    assert (tmp_path / "down" / "f.bin").read_bytes() == data
    assert run(s5 + ["cat", "s3://s5/many/3"], tmp_path, binary=True).stdout == data
    run(s5 + ["rm", "s3://s5/many/*"], tmp_path)
    assert "dir/" in run(s5 + ["ls", "s3://s5/"], tmp_path).stdout
    assert "many" not in run(s5 + ["ls", "s3://s5/*"], tmp_path).stdout


def test_rclone(proxy, tmp_path):
    e = {
        "RCLONE_CONFIG_AIS_TYPE": "s3",
        "RCLONE_CONFIG_AIS_PROVIDER": "Other",
        "RCLONE_CONFIG_AIS_ENDPOINT": proxy.url + "/s3",
        "RCLONE_CONFIG_AIS_ACCESS_KEY_ID": KEY,
        "RCLONE_CONFIG_AIS_SECRET_ACCESS_KEY": SECRET,
        "RCLONE_CONFIG_AIS_FORCE_PATH_STYLE": "true",
    }
    os.environ.update(e)
    try:
        rc = [tool("rclone"), "--config", "/dev/null"]
        src = tmp_path / "src"
        src.mkdir()
        for i in range(5):
            (src / f"f{i}").write_bytes(os.urandom(10_000 + i))
        (src / "big").write_bytes(os.urandom(12 * 1024 * 1024))
        run(rc + ["mkdir", "ais:rcl"], tmp_path)
        run(rc + ["copy", str(src), "ais:rcl/data"], tmp_path)
        lsl = run(rc + ["lsl", "ais:rcl"], tmp_path).stdout
        assert len(lsl.splitlines()) == 6
        run(rc + ["check", str(src), "ais:rcl/data"], tmp_path)
        assert run(rc + ["cat", "ais:rcl/data/f0"], tmp_path, binary=True).stdout == (src / "f0").read_bytes()
        run(rc + ["copy", "ais:rcl/data", str(tmp_path / "back")], tmp_path)
        for f in src.iterdir():
            assert (tmp_path / "back" / f.name).read_bytes() == f.read_bytes()
        run(rc + ["purge", "ais:rcl"], tmp_path)
        assert "rcl" not in run(rc + ["lsd", "ais:"], tmp_path).stdout
    finally:
        for k in e:
            os.environ.pop(k, None)
