"""Pure byte codecs (sans-IO) the protocol modules share: BER, a small BSON, NTLMSSP,
HTTP/1.x responses, TLS ClientHellos and certificate trust. No sockets here."""
