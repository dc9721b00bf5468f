"""The Streamlit dashboard: `streamlit_app.py` routes to one script per page in `views/`."""
