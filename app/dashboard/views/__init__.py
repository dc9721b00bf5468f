"""One script per dashboard page, run by the router in `app/dashboard/streamlit_app.py`."""
