"""Results on live data: KPIs, journey funnels, experiment statistics and daily rollups, computed in SQL."""
