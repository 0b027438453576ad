"""Listing flags the SDK sends: non-recursive listing (`NO_RECURSION`) with virtual
directory entries, with `NO_DIRS` too (AIStore lists them for ais:// buckets), paging through one level; through the
proxy over three targets and on a lone target."""

import pytest
from aistore.sdk.list_object_flag import ListObjectFlag


ENTRY_IS_DIR = 1 << 7


def level(bck, prefix, flags, page_size=0):
    out, token = [], ""
    while True:
        page = bck.list_objects(prefix=prefix, flags=flags, page_size=page_size, continuation_token=token,
                                props="name,size")
        out += [(e.name, bool(e.flags & ENTRY_IS_DIR), e.size) for e in page.entries]
        token = page.continuation_token
        if not token:
            return out


def test_non_recursive_listing(client):
    bck = client.bucket("tree")
    bck.create()
    for name in ["a/1", "a/2", "a/b/3", "a/b/c/4", "top", "z/5", "a/bb/6"]:
        bck.object(name).get_writer().put_content(name.encode())
    nr = [ListObjectFlag.NO_RECURSION]
    assert level(bck, "", nr) == [("a/", True, 0), ("top", False, 3), ("z/", True, 0)]
    assert level(bck, "a/", nr) == [("a/1", False, 3), ("a/2", False, 3), ("a/b/", True, 0), ("a/bb/", True, 0)]
    assert level(bck, "a/b", nr) == [("a/b/", True, 0), ("a/bb/", True, 0)]
    assert level(bck, "a/b/", nr) == [("a/b/3", False, 5), ("a/b/c/", True, 0)]
    # As AIStore's targets do for ais:// buckets: NO_DIRS filters remote listings only.
    assert level(bck, "a/", nr + [ListObjectFlag.NO_DIRS]) == level(bck, "a/", nr)
    assert level(bck, "a/b/", nr + [ListObjectFlag.NO_DIRS]) == [("a/b/3", False, 5), ("a/b/c/", True, 0)]
    assert level(bck, "a/", nr, page_size=1) == level(bck, "a/", nr), "paging one entry at a time"
    assert level(bck, "missing/", nr) == []
    # Recursive listing is unchanged: objects only, every level.
    assert [e.name for e in bck.list_all_objects(prefix="a/")] == ["a/1", "a/2", "a/b/3", "a/b/c/4", "a/bb/6"]
