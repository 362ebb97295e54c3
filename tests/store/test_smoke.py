from rampup.store import Store


def test_open_and_ping(store: Store) -> None:
    assert store.ping()
    store.ensure_model("m")
    assert [m.name for m in store.list_models()] == ["m"]
