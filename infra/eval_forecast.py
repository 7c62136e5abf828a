"""`make eval-forecast`: the load forecaster against seasonal-naive on held-out weeks of realistic
synthetic traffic (daily and weekly cycles, a trend, holidays, bursts), and what it recommends.

Trains on the first weeks, then forecasts each held-out day from everything before it (the
model is not refitted, as in production between daily refits). Prints MAPE per held-out week and
overall, and the Flex Consumption recommendation for the last forecast day.
"""

from __future__ import annotations

import argparse
import sys
import time

from shared.forecast.capacity import CapacitySettings, recommend
from shared.forecast.model import LoadForecaster, mape, seasonal_naive
from shared.forecast.traffic import SLOTS_PER_DAY, generate


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m infra.eval_forecast")
    parser.add_argument("--weeks", type=int, default=10, help="weeks of traffic generated")
    parser.add_argument("--held-out", type=int, default=2, help="final weeks kept for evaluation")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    out = sys.stdout.write
    series = generate(args.weeks, seed=args.seed)
    train_days = (args.weeks - args.held_out) * 7
    started = time.perf_counter()
    forecaster = LoadForecaster().fit(series[: train_days * SLOTS_PER_DAY])
    out(f"trained on {train_days} days in {time.perf_counter() - started:.2f} s; held out {args.held_out * 7} days\n")
    model_errors: list[float] = []
    naive_errors: list[float] = []
    busiest: list[float] = []
    for day in range(train_days, args.weeks * 7):
        history = series[: day * SLOTS_PER_DAY]
        actual = series[day * SLOTS_PER_DAY : (day + 1) * SLOTS_PER_DAY]
        forecast = forecaster.predict_next_day(history)
        busiest = max(busiest, forecast, key=sum)
        model_errors.append(mape(actual, forecast))
        naive_errors.append(mape(actual, seasonal_naive(history)))
    out(f"\n{'held-out week':<16}{'model MAPE':>12}{'seasonal-naive MAPE':>22}\n")
    for week in range(args.held_out):
        days = slice(week * 7, week * 7 + 7)
        model_week = sum(model_errors[days]) / 7
        naive_week = sum(naive_errors[days]) / 7
        out(f"{week + 1:<16}{model_week:>12.3f}{naive_week:>22.3f}\n")
    model = sum(model_errors) / len(model_errors)
    naive = sum(naive_errors) / len(naive_errors)
    out(f"{'all':<16}{model:>12.3f}{naive:>22.3f}   model/naive {model / naive:.2f}\n")
    plan = recommend(busiest, CapacitySettings())
    out(
        f"\nfor the busiest forecast day: peak {plan.peak_rps} req/s, busy {plan.busy_rps} req/s → always-ready "
        f"{plan.always_ready}, maximum instances {plan.maximum_instances}, "
        f"~{plan.monthly_requests:,.0f} requests and ~${plan.monthly_cost_usd:,.2f} a month\n"
    )
    out(f"\ntarget: beat seasonal-naive: {'met' if model < naive else 'NOT met'}\n")
    return {"model_mape": model, "naive_mape": naive}


if __name__ == "__main__":
    main()
