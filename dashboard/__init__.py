"""The Streamlit dashboard: browse cells beside their paired examples (`psw dashboard`)."""
