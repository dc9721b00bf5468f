"""Get started: shown while the database holds no observations; says how to point the access points here."""

from __future__ import annotations

import streamlit as st

from app.dashboard import auth, data, setup

src = data.source()
guide = setup.guide(data.settings(), st.context.headers.get("Host"))

st.title("No observations yet")
st.markdown(
    "The dashboard fills up as soon as your access points report what they hear. Start the receiver on a machine "
    "the vendor can reach, then point EnGenius Cloud, HiveManager or Meraki at it. Nothing is lost meanwhile: every "
    "report is stored as it arrives, and this page turns into the dashboard once the first one is in."
)
st.code(f"presence serve --host 0.0.0.0 --port {guide.port}", language="sh")

engenius, aerohive, meraki = st.columns(3, gap="large")
with engenius:
    st.subheader("EnGenius Cloud")
    st.markdown(
        "In EnGenius Cloud, open **General Settings > AP > Advanced Settings > Presence Service** "
        "(the CloudTrax format) and set:\n\n"
        f"- **Server Location**: `{guide.engenius_url}`\n"
        "- **Key**: the value of `PRESENCE_ENGENIUS_KEY` on the receiver\n\n"
        "EnGenius signs every report with that key; the `Signature` header is added automatically, there is "
        "nothing else to configure."
    )
    _status = st.success if guide.engenius_configured else st.warning
    _status(guide.engenius_status, icon=":material/key:")
with aerohive:
    st.subheader("Aerohive / HiveManager")
    st.markdown(
        "In HiveManager, open **API Data Management**, add a presence analytics (webhook) subscription and set:\n\n"
        f"- **Post URL**: `{guide.aerohive_url}`\n"
        "- **Access Token** (the webhook secret): the value of `PRESENCE_AEROHIVE_SECRET` on the receiver\n\n"
        "HiveManager sends the secret with every report; the receiver refuses reports without it."
    )
    _status = st.success if guide.aerohive_configured else st.warning
    _status(guide.aerohive_status, icon=":material/key:")
with meraki:
    st.subheader("Cisco Meraki")
    st.markdown(
        "In the Meraki dashboard, open **Network-wide > General > Location and scanning**, enable the "
        "**Scanning API** and add a Post URL:\n\n"
        "1. Copy the **Validator** shown there into `PRESENCE_MERAKI_VALIDATOR` on the receiver, and restart it.\n"
        f"2. **Post URL**: `{guide.meraki_url}`\n"
        "3. **Secret**: the value of `PRESENCE_MERAKI_SECRET` on the receiver\n"
        "4. **API version**: V3 (V2 works too); **Radio type**: WiFi (Bluetooth reports are acknowledged, not "
        "stored)\n"
        "5. Press **Validate**: Meraki sends a GET to the Post URL and expects the validator back.\n\n"
        "Meraki sends the secret in every report; the receiver refuses reports without it. Meraki posts from its "
        "cloud, not from the access points: the Post URL must be reachable from the internet, and Meraki asks for "
        "HTTPS with a publicly trusted certificate (a reverse proxy in front of the receiver)."
    )
    _status = st.success if guide.meraki_configured else st.warning
    _status(guide.meraki_status, icon=":material/key:")

st.subheader("Check it")
st.markdown(
    f'`{guide.health_url}` answers `{{"ok": true}}` once the receiver is up, and `{guide.meraki_url}` answers '
    "the Meraki validator once it is set. To see the dashboard with made-up traffic first, fill a database with "
    "the simulator:"
)
st.code("presence simulate --days 28 --seed 1", language="sh")
st.caption(f"Database: {src.display_url}")


@st.fragment(run_every=data.SPAN_TTL)
def wait_for_the_first_observation() -> None:
    # This rerun skips the router's gate: a login that no longer holds goes back to it before anything is read.
    if not auth.still_open() or not data.span(src).empty:
        st.rerun()


wait_for_the_first_observation()
