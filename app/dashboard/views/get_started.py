"""Get started: shown while the database holds no observations; says how to point the access points here."""

from __future__ import annotations

import streamlit as st

from app.dashboard import data, setup

src = data.source()
guide = setup.guide(data.settings(), st.context.headers.get("Host"))

st.title("No observations yet")
st.markdown(
    "The dashboard fills up as soon as your access points report what they hear. Start the receiver on a machine "
    "the APs can reach, then point EnGenius Cloud or HiveManager at it. Nothing is lost meanwhile: every report is "
    "stored as it arrives, and this page turns into the dashboard once the first one is in."
)
st.code(f"presence serve --host 0.0.0.0 --port {guide.port}", language="sh")

engenius, aerohive = st.columns(2, gap="large")
with engenius:
    st.subheader("EnGenius Cloud")
    st.markdown(
        "In EnGenius Cloud, open the network's presence reporting (CloudTrax format) settings and set:\n\n"
        f"- **Server URL**: `{guide.engenius_url}`\n"
        "- **Key**: the value of `PRESENCE_ENGENIUS_KEY` on the receiver\n\n"
        "EnGenius signs every report with that key; the `Signature` header is added automatically, there is "
        "nothing else to configure."
    )
    _status = st.success if guide.engenius_configured else st.warning
    _status(guide.engenius_status, icon=":material/key:")
with aerohive:
    st.subheader("Aerohive / HiveManager")
    st.markdown(
        "In HiveManager, add a presence analytics (webhook) subscription and set:\n\n"
        f"- **Post URL**: `{guide.aerohive_url}`\n"
        "- **Access Token** (the webhook secret): the value of `PRESENCE_AEROHIVE_SECRET` on the receiver\n\n"
        "HiveManager sends the secret with every report; the receiver refuses reports without it."
    )
    _status = st.success if guide.aerohive_configured else st.warning
    _status(guide.aerohive_status, icon=":material/key:")

st.subheader("Check it")
st.markdown(
    f'`{guide.health_url}` answers `{{"ok": true}}` once the receiver is up. To see the dashboard with made-up '
    "traffic first, fill a database with the simulator:"
)
st.code("presence simulate --days 28 --seed 1", language="sh")
st.caption(f"Database: {src.display_url}")


@st.fragment(run_every=data.SPAN_TTL)
def wait_for_the_first_observation() -> None:
    if not data.span(src).empty:
        st.rerun()


wait_for_the_first_observation()
