"""Kiosk screen and staff tablet pages, served by the device (see docs/web.md).

Import from the modules (`edge.web.service.start_web`, `edge.web.config.WebConfig`,
`edge.web.app.create_app`): this package imports nothing itself, so `edge.config.model`
can use `edge.web.config` without an import cycle through the pipeline.
"""
