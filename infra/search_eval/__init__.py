"""`make eval-search`: tool search scored on a labelled query set over a realistic tool catalog."""
