# A site-specific tweak: tag customers with a segment, drop test shoppers,
# and split each payment into itself and an audit note.
if .kind == "customer" and .first_name == "Skip" then empty
elif .kind == "customer" then . + {segment: "retail"}
elif .kind == "payment" then ., {kind: "note", key: (.key + "/note"), text: "seen"}
else . end
