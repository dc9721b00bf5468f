"""What people use: the `presence` command line and the Streamlit dashboard."""
