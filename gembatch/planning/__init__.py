"""Planning: the dated model catalogue, cost estimates, plans (chunks and waves), forecasts, pilots."""
