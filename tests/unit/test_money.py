"""Savings in money: deleted bytes at the standard storage price, archived bytes at the difference
between the two prices, per month, rounded to the cent, GB being 1024³ bytes as AWS bills."""

from __future__ import annotations

import pytest

from ecr_cleanup.money import GIB, Prices, archive_note, money, savings, savings_text
from ecr_cleanup.report import keep_category


def test_a_deleted_gib_saves_the_storage_price_per_month() -> None:
    assert savings(Prices(), 10 * GIB, 0)["per_month"] == 1.00


def test_a_gigabyte_is_1024_cubed_bytes() -> None:
    assert savings(Prices(storage=1.0), 10**9, 0)["per_month"] == 0.93


def test_cents_round_half_up() -> None:
    assert savings(Prices(storage=0.01), GIB // 2, 0)["per_month"] == 0.01
    assert savings(Prices(storage=0.01), GIB // 2 - 1024, 0)["per_month"] == 0.0


def test_nothing_deleted_saves_nothing() -> None:
    saved = savings(Prices(), 0, 0)
    assert (saved["per_month"], saved["deleted_per_month"], saved["archived_per_month"]) == (0.0, 0.0, 0.0)


def test_archiving_at_the_default_prices_saves_nothing() -> None:
    assert savings(Prices(), 0, 500 * GIB)["per_month"] == 0.0


def test_archiving_above_150_tb_saves_the_difference() -> None:
    saved = savings(Prices(storage=0.10, archive=0.07), 100 * GIB, 1000 * GIB)
    assert (saved["deleted_per_month"], saved["archived_per_month"], saved["per_month"]) == (10.0, 30.0, 40.0)


def test_an_archive_dearer_than_storage_costs_money() -> None:
    assert savings(Prices(storage=0.10, archive=0.12), 0, 100 * GIB)["per_month"] == -2.0


def test_the_savings_name_their_prices_and_currency() -> None:
    saved = savings(Prices(storage=0.11, archive=0.08), GIB, 0)
    assert (saved["currency"], saved["storage_price_per_gb_month"], saved["archive_price_per_gb_month"]) == (
        "USD",
        0.11,
        0.08,
    )
    assert saved["basis"].startswith("up to")


@pytest.mark.parametrize(
    ("amount", "text"), [(0, "$0.00"), (1234.5, "$1,234.50"), (-0.25, "-$0.25"), (0.005, "$0.01")]
)
def test_money_reads_as_dollars_and_cents(amount: float, text: str) -> None:
    assert money(amount) == text


def test_a_dry_run_would_save_and_a_run_saves() -> None:
    saved = savings(Prices(), 123 * GIB, 0)
    assert savings_text(saved, dry_run=True) == "would save up to $12.30 per month in storage"
    assert savings_text(saved, dry_run=False) == "saves up to $12.30 per month in storage"


def test_archiving_that_saves_nothing_says_so_with_the_restore_price() -> None:
    note = archive_note(Prices())
    assert note is not None
    assert "archiving saves nothing" in note
    assert "$0.03 per GB" in note
    assert "90 days" in note


def test_archiving_that_saves_says_nothing_more() -> None:
    assert archive_note(Prices(storage=0.10, archive=0.07)) is None


@pytest.mark.parametrize("price", [-0.01, 1000, float("nan"), True])
def test_a_price_out_of_range_is_refused(price: float) -> None:
    with pytest.raises(ValueError, match="price: must be dollars per GB-month"):
        Prices(storage=price)


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ("protected: in use: ECS service arn:aws:ecs:us-east-1:1:service/prod/api", "in use: ECS service"),
        ("protected: in use: eu-west-1 Lambda function f:3", "in use: Lambda"),
        ("protected: in use: EKS prod/web Deployment api", "in use: EKS"),
        ("protected: in use: ssm:/images", "in use: protect.in_use_sources"),
        ("protected: tag 'latest' matches protect.tag_patterns 'latest'", "protected tag"),
        ("protected: pushed within protect.younger_than_days (3)", "pushed or pulled recently"),
        ('rules[0] "dev": among the latest 10 of its selection', "among the latest of a rule"),
        ("rules[1]: not older than 30 days", "too recent for a rule"),
        ("no rule selects it", "no rule selects it"),
        (
            "kept: its source in us-east-1 still holds it (replicas_follow_source)",
            "replica of an image its source holds",
        ),
    ],
)
def test_each_reason_to_keep_falls_in_a_category(reason: str, category: str) -> None:
    assert keep_category(reason) == category
