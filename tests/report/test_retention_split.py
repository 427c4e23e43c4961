"""The report's retention section split by acquisition (``loyalty report --retention-by``): the table of each
group's average cohort, hand-computed on small shops (groups shown, a value escaped, values spelt like the
made-up groups), the errors naming the report's options, and a column no reader maps."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from loyalty_cli.cli import app

RUNNER = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})

# As of 2024-04-01 (January to March are over):
#   A  Jan 5 100, Feb 10 50 (member: enrolled 2023-12-01)    B  Jan 20 200
#   C  Jan 3 80, Mar 2 40                                    D  Feb 3 70 (enrols 2024-05-01: after the as-of date)
# All customers: month 1 = (A of January {A, B, C} + nobody of February {D}) / 4 = 25.0%; cumulative revenue per
# customer by month 1: January's 380 + 50 and February's 70 + 0 over 4 = 125.00. The report's minimum (30
# customers) folds both groups (members 1, non-members 3) into (other), which is then every customer.
TX = (
    "customer_id,order_id,order_date,amount\nA,1,2024-01-05,100\nA,2,2024-02-10,50\nB,3,2024-01-20,200\n"
    "C,4,2024-01-03,80\nC,5,2024-03-02,40\nD,6,2024-02-03,70\n"
)
MEMBERS = "customer_id,enrolled_at\nA,2023-12-01\nD,2024-05-01\n"


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_report_retention_by_member(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text(TX)
    Path("members.csv").write_text(MEMBERS)
    args = ["report", "tx.csv", "-o", "r.html", "--as-of", "2024-04-01", "--retention-by", "member", "-q"]
    missing = RUNNER.invoke(app, args)
    assert missing.exit_code == 2 and "Error: --retention-by member needs --members FILE" in missing.stderr
    result = RUNNER.invoke(app, [*args, "--members", "members.csv"])
    assert result.exit_code == 0, result.output
    page = text(Path("r.html").read_text())
    assert (
        "Retention by member: each group&#39;s average cohort member customers month 1 cumulative revenue per "
        "customer, month 1 (other) 4 25.0% 125.00 all 4 25.0% 125.00" in page
    )


def shop(groups: dict[str, tuple[int, int, int]]) -> str:
    """Transactions of customers acquired on 2024-01-10 by channel: per channel (customers, back in February,
    back in April); every purchase 10."""
    rows, n = ["customer_id,order_date,amount,channel"], 0
    for channel, (size, february, april) in groups.items():
        for i in range(size):
            n += 1
            cell = '"' + channel.replace('"', '""') + '"'
            rows.append(f"c{n:03},2024-01-10,10,{cell}")
            rows += [f"c{n:03},2024-02-12,10,{cell}"] * (i < february)
            rows += [f"c{n:03},2024-04-15,10,{cell}"] * (i < april)
    return "\n".join(rows) + "\n"


def report_page(tx: str, *more: str) -> str:
    Path("tx.csv").write_text(tx)
    args = ["report", "tx.csv", "-o", "r.html", "--as-of", "2024-05-01", "--retention-by", "channel", *more, "-q"]
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    return Path("r.html").read_text()


def split_rows(page: str) -> str:
    found = re.search(
        r"Retention by first_channel: each group&#39;s average cohort(.*?)Share of each group", text(page)
    )
    assert found is not None
    return found[1].strip()


def test_report_groups_shown_and_escaped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # As of 2024-05-01, January's cohort has lived through months 1 to 3: the columns are month 1 and month 3
    # (12 and 6 are not over). Groups of 30 or more: web and a channel spelt as a script; x (2) into (other).
    #   "<script>x</script>" 30: month 1 10/30 = 33.3%, month 3 0/30 = 0.0%; by month 3 (300 + 100) / 30 = 13.33
    #   web 30: month 1 15/30 = 50.0%, month 3 6/30 = 20.0%; (300 + 150 + 60) / 30 = 17.00
    #   (other) = x 2: 0.0%, 0.0%; 20 / 2 = 10.00
    #   all 62: month 1 25/62 = 40.3%, month 3 6/62 = 9.7%; (620 + 250 + 60) / 62 = 15.00
    # The two groups of 30 tie: by value ("<" before "w").
    page = report_page(shop({"web": (30, 15, 6), "<script>x</script>": (30, 10, 0), "x": (2, 0, 0)}))
    assert split_rows(page) == (
        "first_channel customers month 1 month 3 cumulative revenue per customer, month 3 "
        "&lt;script&gt;x&lt;/script&gt; 30 33.3% 0.0% 13.33 web 30 50.0% 20.0% 17.00 (other) 2 0.0% 0.0% 10.00 "
        "all 62 40.3% 9.7% 15.00"
    )
    assert "<script>x</script>" not in page


def test_report_values_spelt_like_the_made_up_groups(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    # channels "(other)" 30 (nobody back), "all" 30 (15 back in February), z 1 (back in February: folded into the
    # made-up (other)). The data's values are quoted; the made-up rows keep their labels:
    #   "(other)" 30: 0.0%, 0.0%, 300 / 30 = 10.00;  "all" 30: 15/30 = 50.0%, 0.0%, 450 / 30 = 15.00
    #   (other) 1: 100.0%, 0.0%, 20.00;  all 61: 16/61 = 26.2%, 0.0%, 770 / 61 = 12.62
    page = report_page(shop({"all": (30, 15, 0), "(other)": (30, 0, 0), "z": (1, 1, 0)}))
    assert split_rows(page) == (
        "first_channel customers month 1 month 3 cumulative revenue per customer, month 3 "
        "&#34;(other)&#34; 30 0.0% 0.0% 10.00 &#34;all&#34; 30 50.0% 0.0% 15.00 (other) 1 100.0% 0.0% 20.00 "
        "all 61 26.2% 0.0% 12.62"
    )


def test_report_retention_by_errors_name_its_option_and_read_any_column(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("tx.csv").write_text(TX)
    args = ["report", "tx.csv", "-o", "r.html", "--as-of", "2024-04-01", "-q"]
    bad = RUNNER.invoke(app, [*args, "--retention-by", "order_id"])
    assert bad.exit_code == 2
    assert "Error: --retention-by 'order_id' cannot split customers into groups" in bad.stderr
    assert "--by" not in bad.stderr
    # a column no reader maps (promo) is carried along for the split: one group, (other) at the report's minimum
    Path("tx.csv").write_text(
        TX.replace("amount\n", "amount,promo\n").replace("\n", ",P\n").replace("promo,P", "promo")
    )
    result = RUNNER.invoke(app, [*args, "--retention-by", "promo"])
    assert result.exit_code == 0, result.output
    assert "Retention by first_promo: each group&#39;s average cohort" in Path("r.html").read_text()
