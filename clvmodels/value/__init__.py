"""Value: historical baseline, forward-looking CLV, segments."""
from .clv import customer_lifetime_value
from .historical import accurate_clv, historical_clv, simple_clv
from .new_customer import new_customer_value
from .segments import SEGMENTS, value_segments

__all__ = ["customer_lifetime_value", "new_customer_value", "historical_clv", "simple_clv", "accurate_clv", "value_segments", "SEGMENTS"]
