# Media: RTP, SRTP, G.711, jitter buffer and door-side DSP; the audio path allocates nothing.
