"""Kiosk screen and staff tablet pages, served by the device (see docs/web.md).

Import from the modules (`edge.web.service.start_web`, `edge.config.web.WebConfig`,
`edge.web.app.create_app`): this package imports nothing itself, so `edge.config.model`
can use `edge.config.web` without an import cycle through the pipeline.
"""
