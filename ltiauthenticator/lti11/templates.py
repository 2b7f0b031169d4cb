"""The LTI 1.1 tool configuration ("cartridge") XML, served at ``/lti11/config``.

Format: the IMS Common Cartridge basic LTI link, http://www.imsglobal.org/specs/lti/xml.
LMSs import it by URL or by pasting it to create the external tool.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

LTI11_CONFIG_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<cartridge_basiclti_link xmlns="http://www.imsglobal.org/xsd/imslticc_v1p0"
    xmlns:blti="http://www.imsglobal.org/xsd/imsbasiclti_v1p0"
    xmlns:lticm="http://www.imsglobal.org/xsd/imslticm_v1p0"
    xmlns:lticp="http://www.imsglobal.org/xsd/imslticp_v1p0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.imsglobal.org/xsd/imslticc_v1p0 http://www.imsglobal.org/xsd/lti/ltiv1p0/imslticc_v1p0.xsd
    http://www.imsglobal.org/xsd/imsbasiclti_v1p0 http://www.imsglobal.org/xsd/lti/ltiv1p0/imsbasiclti_v1p0.xsd
    http://www.imsglobal.org/xsd/imslticm_v1p0 http://www.imsglobal.org/xsd/lti/ltiv1p0/imslticm_v1p0.xsd
    http://www.imsglobal.org/xsd/imslticp_v1p0 http://www.imsglobal.org/xsd/lti/ltiv1p0/imslticp_v1p0.xsd">
    <blti:title>{title}</blti:title>
    <blti:description>{description}</blti:description>
    <blti:icon>{icon}</blti:icon>
    <blti:launch_url>{launch_url}</blti:launch_url>
</cartridge_basiclti_link>
"""


def render_config_xml(title: str, description: str, icon: str, launch_url: str) -> str:
    """The cartridge XML; every value is escaped (a title may well contain ``&``)."""
    return LTI11_CONFIG_TEMPLATE.format(
        title=escape(title),
        description=escape(description),
        icon=escape(icon),
        launch_url=escape(launch_url),
    )
