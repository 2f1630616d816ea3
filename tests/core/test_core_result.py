"""Result and Row: fetching rows, scalars, mappings, keys, inserted_primary_key, rowcount."""

import pytest

from minialchemy import delete, exc, insert, select, update


@pytest.fixture
def users_by_id(user_table):
    return select(user_table).order_by(user_table.c.id)


def test_iterating_a_result_yields_rows(conn, users_by_id):
    names = [row.name for row in conn.execute(users_by_id)]
    assert names == ["spongebob", "sandy", "patrick"]


def test_all_returns_a_list_of_rows(conn, users_by_id):
    rows = conn.execute(users_by_id).all()
    assert isinstance(rows, list)
    assert rows[2] == (3, "patrick", "Patrick Star")


def test_row_equals_a_tuple(conn, users_by_id):
    row = conn.execute(users_by_id).first()
    assert row == (1, "spongebob", "Spongebob Squarepants")


def test_row_converts_to_tuple(conn, users_by_id):
    row = conn.execute(users_by_id).first()
    assert tuple(row) == (1, "spongebob", "Spongebob Squarepants")


def test_row_unpacks_like_a_tuple(conn, users_by_id):
    user_id, name, fullname = conn.execute(users_by_id).first()
    assert (user_id, name, fullname) == (1, "spongebob", "Spongebob Squarepants")


def test_row_supports_index_access(conn, users_by_id):
    row = conn.execute(users_by_id).first()
    assert row[0] == 1
    assert row[-1] == "Spongebob Squarepants"
    assert len(row) == 3


def test_row_supports_attribute_access_by_column_name(conn, users_by_id):
    row = conn.execute(users_by_id).first()
    assert row.id == 1
    assert row.name == "spongebob"
    assert row.fullname == "Spongebob Squarepants"


def test_row_attribute_from_two_tables(conn, user_table, address_table):
    stmt = (
        select(user_table.c.name, address_table.c.email_address)
        .where(user_table.c.id == address_table.c.user_id)
        .order_by(address_table.c.id)
    )
    row = conn.execute(stmt).first()
    assert (row.name, row.email_address) == ("spongebob", "spongebob@sqlalchemy.org")


def test_first_returns_none_when_no_rows(conn, user_table):
    assert conn.execute(select(user_table).where(user_table.c.id == 99)).first() is None


def test_one_returns_the_single_row(conn, user_table):
    row = conn.execute(select(user_table).where(user_table.c.id == 2)).one()
    assert row.name == "sandy"


def test_one_raises_no_result_found_when_empty(conn, user_table):
    with pytest.raises(exc.NoResultFound):
        conn.execute(select(user_table).where(user_table.c.id == 99)).one()


def test_one_raises_multiple_results_found_with_two_rows(conn, user_table):
    with pytest.raises(exc.MultipleResultsFound):
        conn.execute(select(user_table).where(user_table.c.id < 3)).one()


def test_one_or_none_returns_none_when_empty(conn, user_table):
    assert conn.execute(select(user_table).where(user_table.c.id == 99)).one_or_none() is None


def test_one_or_none_returns_the_single_row(conn, user_table):
    assert conn.execute(select(user_table.c.name).where(user_table.c.id == 3)).one_or_none() == ("patrick",)


def test_one_or_none_raises_multiple_results_found_with_two_rows(conn, user_table):
    with pytest.raises(exc.MultipleResultsFound):
        conn.execute(select(user_table).where(user_table.c.id < 3)).one_or_none()


def test_scalar_returns_first_column_of_first_row(conn, users_by_id):
    assert conn.execute(users_by_id).scalar() == 1


def test_scalar_returns_none_when_no_rows(conn, user_table):
    assert conn.execute(select(user_table.c.name).where(user_table.c.id == 99)).scalar() is None


def test_scalar_one_returns_the_single_value(conn, user_table):
    assert conn.execute(select(user_table.c.name).where(user_table.c.id == 1)).scalar_one() == "spongebob"


def test_scalar_one_raises_no_result_found_when_empty(conn, user_table):
    with pytest.raises(exc.NoResultFound):
        conn.execute(select(user_table.c.name).where(user_table.c.id == 99)).scalar_one()


def test_scalar_one_raises_multiple_results_found_with_two_rows(conn, user_table):
    with pytest.raises(exc.MultipleResultsFound):
        conn.execute(select(user_table.c.name)).scalar_one()


def test_scalar_one_or_none_returns_none_when_empty(conn, user_table):
    assert conn.execute(select(user_table.c.name).where(user_table.c.id == 99)).scalar_one_or_none() is None


def test_scalar_one_or_none_returns_the_single_value(conn, user_table):
    assert conn.execute(select(user_table.c.name).where(user_table.c.id == 2)).scalar_one_or_none() == "sandy"


def test_scalar_one_or_none_raises_multiple_results_found_with_two_rows(conn, user_table):
    with pytest.raises(exc.MultipleResultsFound):
        conn.execute(select(user_table.c.name)).scalar_one_or_none()


def test_scalars_all_returns_first_column_values(conn, users_by_id):
    assert conn.execute(users_by_id).scalars().all() == [1, 2, 3]


def test_scalars_can_be_iterated(conn, user_table):
    names = [name for name in conn.execute(select(user_table.c.name).order_by(user_table.c.id)).scalars()]
    assert names == ["spongebob", "sandy", "patrick"]


def test_scalars_first_returns_first_value(conn, user_table):
    assert conn.execute(select(user_table.c.name).order_by(user_table.c.id)).scalars().first() == "spongebob"


def test_scalars_first_returns_none_when_empty(conn, user_table):
    assert conn.execute(select(user_table.c.name).where(user_table.c.id == 99)).scalars().first() is None


def test_mappings_rows_behave_as_dicts(conn, users_by_id):
    rows = conn.execute(users_by_id).mappings().all()
    assert rows[0]["name"] == "spongebob"
    assert dict(rows[1]) == {"id": 2, "name": "sandy", "fullname": "Sandy Cheeks"}
    assert list(rows[2].keys()) == ["id", "name", "fullname"]


def test_mappings_can_be_iterated(conn, users_by_id):
    assert [m["fullname"] for m in conn.execute(users_by_id).mappings()] == [
        "Spongebob Squarepants",
        "Sandy Cheeks",
        "Patrick Star",
    ]


def test_keys_lists_column_names(conn, users_by_id):
    assert list(conn.execute(users_by_id).keys()) == ["id", "name", "fullname"]


def test_keys_of_selected_columns(conn, user_table, address_table):
    stmt = select(address_table.c.email_address, user_table.c.name).where(
        user_table.c.id == address_table.c.user_id
    )
    assert list(conn.execute(stmt).keys()) == ["email_address", "name"]


def test_inserted_primary_key_is_the_new_id(conn, user_table):
    result = conn.execute(insert(user_table).values(name="gary", fullname="Gary the Snail"))
    assert result.inserted_primary_key == (4,)
    assert result.inserted_primary_key[0] == 4


def test_inserted_primary_key_of_first_row_is_one(engine, metadata, user_table):
    metadata.create_all(engine)
    with engine.begin() as conn:
        result = conn.execute(insert(user_table).values(name="spongebob"))
        assert result.inserted_primary_key == (1,)


def test_inserted_primary_key_when_given_explicitly(conn, user_table):
    result = conn.execute(insert(user_table).values(id=10, name="gary"))
    assert result.inserted_primary_key == (10,)


def test_update_rowcount_counts_matched_rows(conn, user_table):
    result = conn.execute(update(user_table).where(user_table.c.id >= 2).values(fullname="x"))
    assert result.rowcount == 2


def test_update_rowcount_is_zero_when_nothing_matches(conn, user_table):
    result = conn.execute(update(user_table).where(user_table.c.id == 99).values(fullname="x"))
    assert result.rowcount == 0


def test_delete_rowcount_counts_deleted_rows(conn, address_table):
    result = conn.execute(delete(address_table).where(address_table.c.user_id == 2))
    assert result.rowcount == 2


def test_result_is_exhausted_after_all(conn, users_by_id):
    result = conn.execute(users_by_id)
    assert len(result.all()) == 3
    assert result.all() == []


# -- reshaping a result: partitions, columns, tuples, mappings, yield_per, unique --------------------


def test_partitions_hands_out_rows_in_lists_of_the_given_size(conn, users_by_id):
    batches = list(conn.execute(users_by_id).partitions(2))
    assert [len(batch) for batch in batches] == [2, 1]
    assert [row.name for batch in batches for row in batch] == ["spongebob", "sandy", "patrick"]


def test_yield_per_sets_the_partition_size(conn, users_by_id):
    batches = list(conn.execute(users_by_id).yield_per(2).partitions())
    assert [[row.id for row in batch] for batch in batches] == [[1, 2], [3]]


def test_partitions_of_scalars_and_of_mappings(conn, users_by_id):
    assert list(conn.execute(users_by_id).scalars().partitions(2)) == [[1, 2], [3]]
    batches = list(conn.execute(users_by_id).mappings().partitions(2))
    assert [m["name"] for m in batches[1]] == ["patrick"]


def test_columns_picks_and_reorders_columns(conn, user_table, users_by_id):
    assert conn.execute(users_by_id).columns("name", "id").all() == [
        ("spongebob", 1),
        ("sandy", 2),
        ("patrick", 3),
    ]
    rows = conn.execute(users_by_id).columns(user_table.c.fullname).all()
    assert rows[0] == ("Spongebob Squarepants",)
    assert conn.execute(users_by_id).columns(1).scalars().all() == ["spongebob", "sandy", "patrick"]


def test_columns_with_an_unknown_key_raises(conn, users_by_id):
    with pytest.raises(exc.NoSuchColumnError, match="nope"):
        conn.execute(users_by_id).columns("nope")


def test_tuples_gives_plain_unpackable_rows(conn, users_by_id):
    rows = conn.execute(users_by_id).tuples().all()
    ids = [user_id for user_id, _, _ in rows]
    assert ids == [1, 2, 3]


def test_mappings_all_returns_dictionaries(conn, users_by_id):
    mappings = conn.execute(users_by_id).mappings().all()
    assert mappings[1] == {"id": 2, "name": "sandy", "fullname": "Sandy Cheeks"}
    assert mappings[1]["fullname"] == "Sandy Cheeks"


def test_scalars_unique_drops_repeated_values(conn, address_table):
    stmt = select(address_table.c.user_id).order_by(address_table.c.id)
    assert conn.execute(stmt).scalars().unique().all() == [1, 2]


def test_unique_on_rows_and_on_mappings(conn, address_table):
    stmt = select(address_table.c.user_id).order_by(address_table.c.id)
    assert conn.execute(stmt).unique().all() == [(1,), (2,)]
    assert conn.execute(stmt).mappings().unique().all() == [{"user_id": 1}, {"user_id": 2}]


def test_yield_per_execution_option_sets_the_partition_size(conn, users_by_id):
    batches = list(conn.execute(users_by_id.execution_options(yield_per=2)).partitions())
    assert [len(batch) for batch in batches] == [2, 1]
