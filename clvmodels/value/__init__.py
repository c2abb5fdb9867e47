"""Value: historical baseline, forward-looking CLV, segments."""
from .clv import customer_lifetime_value
from .historical import accurate_clv, historical_clv, simple_clv
from .segments import SEGMENTS, value_segments

__all__ = ["customer_lifetime_value", "historical_clv", "simple_clv", "accurate_clv", "value_segments", "SEGMENTS"]
