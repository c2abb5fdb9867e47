"""Old home of the log checks, kept so that ``from clvmodels.data.validate import ...`` keeps working.

The engine-neutral rules, messages and the problem reporter are in :mod:`clvmodels.data.checks`; the
pandas engine's checks (:func:`check_frame`, ``parse_*``, :class:`ParsedLog`) in
:mod:`clvmodels.data.pandas_engine`. Import them from there.
"""
from __future__ import annotations

from .checks import (
    BLANK_PATTERN,
    CANONICAL_INT_PATTERN,
    DATE_PATTERN,
    MAX_AMOUNT,
    MAX_DATE,
    MAX_DAY,
    MAX_MONEY_DECIMALS,
    MIN_DATE,
    MIN_DAY,
    MSG_DATES_OUT_OF_RANGE,
    MSG_EMPTY,
    MSG_EMPTY_AFTER_DROP,
    MSG_HUGE_AMOUNTS,
    MSG_IDS_TOO_LARGE,
    MSG_MISSING_AMOUNTS,
    MSG_MISSING_DATES,
    MSG_MISSING_IDS,
    MSG_NEGATIVE,
    NEGATIVE_AMOUNT_POLICIES,
    NUMBER_PATTERN,
    SHOW_ROWS,
    ZERO_AMOUNT_POLICIES,
    check_options,
    day_number,
    day_text,
    exact_money,
    money_decimals_from_sql,
    msg_after_end,
    msg_bad_amount_type,
    msg_bad_amounts,
    msg_bad_date_type,
    msg_bad_dates,
    msg_empty_after_drop,
    msg_end_before_all,
    msg_end_out_of_range,
    msg_integer_dates,
    msg_missing_column,
    msg_ragged_rows,
    parse_end_date,
    parse_period_ends,
)
from .pandas_engine import ParsedLog, check_frame, parse_amounts, parse_dates, parse_ids

__all__ = [
    "BLANK_PATTERN", "CANONICAL_INT_PATTERN", "DATE_PATTERN", "MAX_AMOUNT", "MAX_DATE", "MAX_DAY",
    "MAX_MONEY_DECIMALS", "MIN_DATE", "MIN_DAY", "MSG_DATES_OUT_OF_RANGE", "MSG_EMPTY", "MSG_EMPTY_AFTER_DROP",
    "MSG_HUGE_AMOUNTS", "MSG_IDS_TOO_LARGE", "MSG_MISSING_AMOUNTS", "MSG_MISSING_DATES", "MSG_MISSING_IDS",
    "MSG_NEGATIVE", "NEGATIVE_AMOUNT_POLICIES", "NUMBER_PATTERN", "SHOW_ROWS", "ZERO_AMOUNT_POLICIES",
    "check_options", "day_number", "day_text", "exact_money", "money_decimals_from_sql", "msg_after_end",
    "msg_bad_amount_type", "msg_bad_amounts", "msg_bad_date_type", "msg_bad_dates", "msg_empty_after_drop",
    "msg_end_before_all", "msg_end_out_of_range", "msg_integer_dates", "msg_missing_column", "msg_ragged_rows",
    "parse_end_date", "parse_period_ends", "ParsedLog", "check_frame", "parse_amounts", "parse_dates",
    "parse_ids",
]
