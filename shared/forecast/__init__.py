"""Load forecasting: request rate per region in 5-minute windows for the next 24 hours, and the
Flex Consumption capacity and cost that rate needs."""
