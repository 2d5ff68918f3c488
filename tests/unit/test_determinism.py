"""Same profile, seed and user id: the same (kind, variant, body) sequence, whatever else runs."""

from dataclasses import replace

from locust_mlstress.payloads import PayloadFactory


def _stream(profile, user_id, n=600):
    factory = PayloadFactory(profile, user_id, clock=lambda: 1000.0)
    return [(p.kind, p.variant, p.body, p.content_type, p.request_id) for p in (factory.next() for _ in range(n))]


def test_same_seed_and_user_give_the_same_bytes(quickstart):
    assert _stream(quickstart, 3) == _stream(quickstart, 3)


def test_users_get_different_streams(quickstart):
    a, b = _stream(quickstart, 0, 50), _stream(quickstart, 1, 50)
    assert [x[2] for x in a] != [x[2] for x in b]


def test_a_users_stream_does_not_depend_on_other_users(quickstart):
    """Interleaving many users (as a process with more users does) leaves user 2's stream alone."""
    alone = _stream(quickstart, 2, 300)
    factories = [PayloadFactory(quickstart, u, clock=lambda: 1000.0) for u in range(8)]
    crowded = {u: [] for u in range(8)}
    for step in range(300):
        for u in range(8) if step % 2 else reversed(range(8)):
            p = factories[u].next()
            crowded[u].append((p.kind, p.variant, p.body, p.content_type, p.request_id))
    assert crowded[2] == alone


def test_another_seed_changes_the_stream(quickstart):
    other = replace(quickstart, seed=quickstart.seed + 1)
    assert [x[2] for x in _stream(quickstart, 0, 50)] != [x[2] for x in _stream(other, 0, 50)]


def test_timing_changes_which_drift_is_active_but_not_the_draws(quickstart):
    """A gradual schedule at t=0 sends clean rows where t=1000 sends drifted ones; the kinds,
    variants and request ids stay identical, and so does every non-drifted payload."""
    early = PayloadFactory(quickstart, 5, clock=lambda: 0.0)
    late = PayloadFactory(quickstart, 5, clock=lambda: 1000.0)
    differed = 0
    for _ in range(400):
        a, b = early.next(), late.next()
        assert (a.kind, a.variant, a.request_id) == (b.kind, b.variant, b.request_id)
        if a.kind != "drifted" or a.variant != "older_customers":
            assert a.body == b.body
        elif a.body != b.body:
            differed += 1
            assert not a.drift_active and b.drift_active
    assert differed > 0


def test_request_ids_are_unique(quickstart):
    ids = [x[4] for x in _stream(quickstart, 0, 1000)] + [x[4] for x in _stream(quickstart, 1, 1000)]
    assert len(set(ids)) == len(ids)
