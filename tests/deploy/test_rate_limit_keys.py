"""Rate limits count per client address without Redis ever holding the address."""

from __future__ import annotations

import hashlib
import hmac

import redis

from tests.helpers import csrf_token, valid_signature

SUPPORTER_ADDRESS = "203.0.113.77"


def redis_contents(url: str) -> list[bytes]:
    """Every key in the test Redis database and every value stored under it."""
    client = redis.Redis.from_url(url)
    found = []
    for key in client.scan_iter():
        found.append(key)
        kind = client.type(key)
        if kind == b"string":
            found.append(client.get(key) or b"")
        elif kind == b"list":
            found.extend(client.lrange(key, 0, -1))
        elif kind == b"zset":
            found.extend(member for member, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                found.extend((field, value))
        elif kind == b"set":
            found.extend(client.smembers(key))
    client.close()
    return found


def test_limits_are_kept_under_a_keyed_hash_of_the_address(app, client, create_page,
                                                           redis_url):
    slug = create_page()
    token = csrf_token(client, slug)
    response = client.post(f"/a/{slug}", environ_base={"REMOTE_ADDR": SUPPORTER_ADDRESS},
                           data={"csrf_token": token, **valid_signature()})
    assert response.status_code == 303

    contents = redis_contents(redis_url)
    key = hashlib.sha256(b"rate-limit-address:" + app.secret_key.encode()).digest()
    hashed = hmac.new(key, SUPPORTER_ADDRESS.encode(), "sha256").hexdigest()[:32].encode()
    for item in contents:
        assert SUPPORTER_ADDRESS.encode() not in item, item
        assert SUPPORTER_ADDRESS.replace(".", "").encode() not in item, item
    assert any(hashed in item for item in contents), "the limit was not recorded"
