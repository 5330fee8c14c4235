# End-to-end layer: Signal protocol sessions that wrap and unwrap the call key.
