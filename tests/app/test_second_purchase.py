"""``app.second_purchase`` called directly: the settings checked in neutral words, the group column, and the
tables and notes of the Kaplan-Meier hand fixture of tests/cli/test_second_purchase.py."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from loyalty_cli.app.inputs import Inputs, InputSpec, load_inputs
from loyalty_cli.app.messages import Messages
from loyalty_cli.app.second_purchase import SecondPurchaseSettings, group_by, second_purchase
from loyalty_cli.errors import ConfigError, DataError, UsageError, setting
from loyalty_cli.metrics.second_purchase import Window

AS_OF = date(2024, 3, 1)
# repeaters r1-r4 with gaps 5, 5, 10, 20 days; one-time buyers o1-o4 first seen 4, 11, 16 and 31 days before the
# as-of date (observed 3, 10, 15 and 30 days: the last data day is 02-29)
TX = """customer_id,order_date,amount,category
r1,2024-01-20,10.00,X
r1,2024-01-25,20.00,X
r2,2024-02-23,10.00,Y
r2,2024-02-28,5.00,Y
r3,2024-02-17,10.00,X
r3,2024-02-27,10.00,X
r4,2024-02-04,10.00,Y
r4,2024-02-24,10.00,Y
o1,2024-02-26,10.00,X
o2,2024-02-19,12.50,Y
o3,2024-02-14,10.00,X
o4,2024-01-30,10.00,X
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    path: Path = tmp_path_factory.mktemp("second") / "tx.csv"
    path.write_text(TX)
    return load_inputs(InputSpec(transactions=[str(path)], as_of=AS_OF, activity=True))


def test_settings_refuse_bad_values_naming_the_setting():
    for kwargs, name in (({"min_n": 0}, "min_n"), ({"closing": -1}, "closing")):
        with pytest.raises(ConfigError) as caught:
            SecondPurchaseSettings(**kwargs)  # type: ignore[arg-type]
        assert caught.value.name == name and str(caught.value).startswith(setting(name))
    with pytest.raises(UsageError, match="percentiles must satisfy") as window:
        SecondPurchaseSettings(window=Window("percentile", 80, 20))
    assert window.value.message.startswith(setting("window"))
    timing = SecondPurchaseSettings(min_n=3, window=Window("days", 20, 45), closing=7).timing
    assert (timing.min_n, timing.window, timing.closing_days, timing.by) == (3, Window("days", 20, 45), 7, None)


def test_group_by_resolves_the_column_of_the_first_order():
    names = ["customer_id", "orders", "first_category"]
    said = Messages()
    assert group_by(None, names, said) is None and group_by("orders", names, said) == "orders"
    assert said.items == []
    assert group_by("category", names, said) == "first_category"
    assert [m.text for m in said.items] == [
        f"{setting('by')} category: grouping by first_category (that of the first order)"
    ]
    with pytest.raises(DataError, match="no channel column"):
        group_by("channel", names, said)
    with pytest.raises(DataError) as caught:
        group_by("category", ["customer_id"], said)
    assert caught.value.hint is not None and setting("category_col") in caught.value.hint
    with pytest.raises(UsageError, match="no such column") as unknown:
        group_by("nope", names, said)
    assert unknown.value.message.startswith(setting("by"))


def test_hand_fixture(shop: Inputs):
    result = second_purchase(shop, SecondPurchaseSettings(min_n=1))
    assert result.as_of == AS_OF and result.config.by is None and result.caveat is None
    overall = result.summary.row(0, named=True)
    # gaps 5, 5, 10, 20: p25-p75 of the repeaters' gap = days 5-10
    assert (overall["group"], overall["first_buyers"], overall["repeaters"]) == ("(all)", 8, 4)
    assert (overall["window_from_days"], overall["window_to_days"]) == (5, 10)
    # o1 (4 days since its first purchase) has a window that opens on 03-02, within the 14 closing days
    assert result.actions.select("customer_id", "status", "nudge_date").rows() == [("o1", "upcoming", date(2024, 3, 2))]
    # observed 7 days: r1, r3, r4, o2, o3, o4 (6); within 7 days: r1 (gap 5); r2's gap of 5 is not observed 7 days
    assert result.shares.select("within_days", "observed", "returned").rows()[:3] == [(7, 6, 1), (14, 4, 1), (30, 2, 1)]
    assert result.curve["day"].to_list() == [3, 5, 10, 15, 20, 30]
    assert result.value["customers"].sum() == 0  # nobody observed 365 days
    texts = [m.text for m in result.messages]
    assert all(m.level == "note" for m in result.messages)
    assert texts[0].startswith(
        "As of 2024-03-01 (data before that day): 8 first-time buyers, 4 bought again on a later day, 4 have not (yet)"
    )
    assert "Window: p25-p75 of the repeaters' gap = days 5-10 after the first purchase" in texts
    assert f"Numbers from fewer than {setting('min_n')} 1 customer are left empty" in texts
    assert (
        texts[-1] == "To nudge: 1 one-time buyer, 0 in their window now, 1 whose window opens and closes within 14 days"
    )


def test_grouped_and_without_a_window(shop: Inputs):
    result = second_purchase(shop, SecondPurchaseSettings(by="category", min_n=2))
    assert result.config.by == "first_category"
    assert result.messages[0].text == f"{setting('by')} category: grouping by first_category (that of the first order)"
    # X: gaps 5, 10 -> window 5-10; Y: gaps 5, 20 -> window 5-20
    assert result.summary.select("group", "window_from_days", "window_to_days").rows() == [
        ("(all)", 5, 10),
        ("X", 5, 10),
        ("Y", 5, 20),
    ]
    assert result.actions["customer_id"].to_list() == ["o2", "o1"]
    few = second_purchase(shop, SecondPurchaseSettings(min_n=5))  # 4 repeaters: no window, nobody to nudge
    warnings = [m.text for m in few.messages if m.level == "warning"]
    assert warnings == [
        f"No second-purchase window: fewer than {setting('min_n')} 5 repeaters. Lower {setting('min_n')} or give "
        f"{setting('window')} in days, e.g. {setting('window')} 20-45"
    ]
    assert few.actions.height == 0
