#!/bin/sh
# Regenerates the speech WAVs in this folder (Debian 12: apt-get install espeak-ng sox).
# `make bench` only reads the committed WAVs; it never needs espeak-ng or sox.
set -eu
cd "$(dirname "$0")"
render() {  # name voice text
    espeak-ng -v "$2" -s 150 -w "/tmp/$1-22k.wav" "$3"
    for rate in 16000 8000; do
        sox "/tmp/$1-22k.wav" -r "$rate" -c 1 -b 16 "$1-$((rate / 1000))k.wav" \
            rate -v pad 0.5 0.5 gain -n -6
    done
    rm -f "/tmp/$1-22k.wav"
}
render male en-us "Someone is at the front door. Please open the gate, I have a parcel for number twelve. \
It is raining quite hard, so I will leave it under the roof by the bicycles."
render female en-us+f3 "Hello, this is the delivery service. The package needs a signature. \
Could you come down to the entrance, or shall I try the neighbours on the second floor?"
