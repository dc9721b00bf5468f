"""Presence analytics: pure functions from observation DataFrames to visits, visitors, dwell, loyalty and zones.

Nothing here touches a database, Flask or Streamlit: `store.frames` loads the DataFrame, and the CLI, the
dashboard and the tests all call the same functions (`analytics.report.analyse` / `build_report`).
"""
