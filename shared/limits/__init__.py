"""Rate limits: rules from settings, a budget shared by every instance, and the limiter in front of upstreams."""
