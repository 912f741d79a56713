"""The MQTT bridge: order state, events and Home Assistant discovery on a broker; commands in.

`settings` is imported by the configuration and stays free of aiomqtt; the bridge lives in
`monitor.mqtt.bridge`.
"""
