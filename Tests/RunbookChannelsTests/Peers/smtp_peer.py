"""A real SMTP server (aiosmtpd) on loopback for the e-mail channel's tests.

Usage: smtp_peer.py RECORD_FILE MODE [CERT KEY USER PASSWORD]
  MODE plain:    no TLS, no login (a relay on this machine)
  MODE starttls: STARTTLS required before MAIL, then AUTH required
  MODE smtps:    TLS from the first byte, AUTH required
Prints the port it listens on (127.0.0.1, chosen by the system), then serves until killed.
Recipients pick the answer: refused@... gets 550 at RCPT, busy@... 451 at RCPT, bounce@... 554 after
DATA, slow@... makes the server wait 5 s before answering the end of DATA.
Every message that reaches the end of DATA is appended to RECORD_FILE as one JSON line: the
envelope, the bytes as received (base64), whether TLS and a login were in place, and the message
as Python's email package reads it (headers decoded, body decoded, defects found).
"""
import asyncio
import base64
import email
import email.policy
import json
import logging
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

record_file, mode = sys.argv[1], sys.argv[2]
cert, key, user, password = (sys.argv[3:7] + [None] * 4)[:4]
logging.getLogger("mail.log").setLevel(logging.CRITICAL)


def record(server, session, envelope):
    raw = envelope.original_content
    message = email.message_from_bytes(raw, policy=email.policy.default)
    date = message["Date"]
    entry = {
        "mail_from": envelope.mail_from,
        "rcpt_tos": envelope.rcpt_tos,
        "raw": base64.b64encode(raw).decode(),
        "tls": server.transport.get_extra_info("ssl_object") is not None,
        "authenticated": bool(session.authenticated),
        "subject": str(message["Subject"]),
        "date": date.datetime.isoformat() if date is not None and date.datetime is not None else None,
        "message_id": str(message["Message-ID"]),
        "from": str(message["From"]),
        "to": str(message["To"]),
        "content_type": message.get_content_type(),
        "charset": message.get_content_charset(),
        "body": message.get_content().replace("\r\n", "\n"),
        "defects": [type(defect).__name__ for defect in message.defects],
    }
    with open(record_file, "a") as out:
        out.write(json.dumps(entry) + "\n")


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused@"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if address.startswith("busy@"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        record(server, session, envelope)
        if any(address.startswith("slow@") for address in envelope.rcpt_tos):
            await asyncio.sleep(5)
        if any(address.startswith("bounce@") for address in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected as spam"
        return "250 2.0.0 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    good = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=good, handled=False)


async def main():
    context = None
    if mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)

    def protocol():
        if mode == "plain":
            return SMTP(Handler(), hostname="peer.test")
        if mode == "starttls":
            return SMTP(Handler(), hostname="peer.test", tls_context=context, require_starttls=True,
                        authenticator=authenticator, auth_required=True)
        # TLS is the socket's, which aiosmtpd does not see: it must not ask for STARTTLS before AUTH.
        return SMTP(Handler(), hostname="peer.test", authenticator=authenticator, auth_required=True, auth_require_tls=False)

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0, ssl=context if mode == "smtps" else None)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


asyncio.run(main())
