"""Bounce and complaint mail as real servers send it: RFC 3464 appendix and RFC 5965 appendix B
examples (adapted to name our messages), and a Gmail- and an Outlook-style DSN."""


def rfc3464_failed(recipient: str, message_id: str) -> str:
    return f"""\
Date: Thu, 7 Jul 1994 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Message-Id: <199407072116.RAA14128@CS.UTK.EDU>
Subject: Returned mail: Cannot send message for 5 days
To: <owner-ups-mib@CS.UTK.EDU>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
        boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

   ----- The following addresses had delivery problems -----
<{recipient}>  (unrecoverable error)

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;{recipient}
Final-Recipient: rfc822;{recipient}
Action: failed
Status: 5.0.0 (permanent failure)
Diagnostic-Code: smtp;  550 Host unknown (Name server: sqi.com: host not found)

--RAA14128.773615765/CS.UTK.EDU
content-type: message/rfc822

[original message goes here]
Message-ID: <{message_id}@loyalflow>

--RAA14128.773615765/CS.UTK.EDU--
"""


def rfc3464_delayed(recipient: str) -> str:
    return f"""\
From: Mail Delivery Subsystem <MAILER-DAEMON@example.net>
Subject: Warning: message delayed 4 hours
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="DELAY"

--DELAY
Content-Type: text/plain

Your message has not been delivered yet. The server will keep trying.

--DELAY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Fri, 4 Dec 2026 04:00:00 +0000

Final-Recipient: rfc822; {recipient}
Action: delayed
Status: 4.4.7
Diagnostic-Code: smtp; 421 4.4.7 mailbox temporarily unavailable
Will-Retry-Until: Tue, 8 Dec 2026 04:00:00 +0000

--DELAY--
"""


def gmail_dsn(recipient: str, message_id: str) -> str:
    """Gmail's mailer-daemon: the recipient is in Final-Recipient, the original's headers in a
    text/rfc822-headers part (no VERP needed to find the message)."""
    return f"""\
Delivered-To: bounces@bounces.example.com
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: bounces@bounces.example.com
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Date: Fri, 04 Dec 2026 04:10:00 -0800 (PST)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000a1b2c3"; report-type=delivery-status

--000000000000a1b2c3
Content-Type: multipart/related; boundary="000000000000a1b2c4"

--000000000000a1b2c4
Content-Type: multipart/alternative; boundary="000000000000a1b2c5"

--000000000000a1b2c5
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {recipient} because the address couldn't be found, or is unable to receive mail.

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist. https://support.google.com/mail/?p=NoSuchUser

--000000000000a1b2c5--
--000000000000a1b2c4--

--000000000000a1b2c3
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; mail.example.com
Arrival-Date: Fri, 04 Dec 2026 04:09:58 -0800 (PST)
X-Original-Message-ID: <{message_id}@loyalflow>

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2607:f8b0:4864:20::b2a, the server for the domain gmail.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try
 550-5.1.1 double-checking the recipient's email address for typos or
 550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser
Last-Attempt-Date: Fri, 04 Dec 2026 04:10:00 -0800 (PST)

--000000000000a1b2c3
Content-Type: text/rfc822-headers

Return-Path: <bounces+{message_id}@bounces.example.com>
From: Loyalty Program <no-reply@example.com>
To: {recipient}
Subject: Welcome!
Message-ID: <{message_id}@loyalflow>

--000000000000a1b2c3--
"""


def outlook_dsn(recipient: str) -> str:
    """Exchange Online's NDR: Status 5.1.10 and RESOLVER.ADR.RecipientNotFound."""
    return f"""\
From: Microsoft Outlook <postmaster@outlook.com>
To: <bounces@bounces.example.com>
Subject: Undeliverable: Welcome!
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="e6b2a5b5-0b0a-4a2e-9a4c-1f7e1d4f0c11"
MIME-Version: 1.0
X-MS-Exchange-Message-Is-Ndr:

--e6b2a5b5-0b0a-4a2e-9a4c-1f7e1d4f0c11
Content-Type: text/html; charset="us-ascii"

<html><body><p><b><font color="#000066" size="3">Your message to {recipient} couldn't be delivered.</font></b></p></body></html>

--e6b2a5b5-0b0a-4a2e-9a4c-1f7e1d4f0c11
Content-Type: message/delivery-status

Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com
Received-From-MTA: dns;mail.example.com
Arrival-Date: Fri, 4 Dec 2026 04:10:00 +0000

Final-Recipient: rfc822;{recipient}
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup

--e6b2a5b5-0b0a-4a2e-9a4c-1f7e1d4f0c11
Content-Type: message/rfc822

Subject: Welcome!
From: Loyalty Program <no-reply@example.com>

--e6b2a5b5-0b0a-4a2e-9a4c-1f7e1d4f0c11--
"""


def rfc5965_complaint(recipient: str, message_id: str) -> str:
    return f"""\
From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <abuse@example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
about this format please see http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounces+{message_id}@bounces.example.com>
Original-Rcpt-To: <{recipient}>
Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT
Reporting-MTA: dns; mail.example.com
Source-IP: 192.0.2.1
Authentication-Results: mail.example.net;
               spf=fail smtp.mail=somespammer@example.com
Reported-Domain: example.com
Reported-Uri: http://example.com/earn_money.html
Removal-Recipient: {recipient}

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: <no-reply@example.com>
Received: from mailserver.example.net (mailserver.example.net
        [192.0.2.1]) by example.com with ESMTP id M63d4137594e46;
        Thu, 08 Mar 2005 14:00:00 -0400
To: <Undisclosed Recipients>
Subject: Earn money
MIME-Version: 1.0
Content-type: text/plain
Message-ID: <{message_id}@loyalflow>
Date: Thu, 02 Sep 2004 12:31:03 -0500

Spam Spam Spam

--part1_13d.2e68ed54_boundary--
"""


NOT_A_REPORT = """\
From: Alice <alice@example.com>
Subject: Out of office
Content-Type: text/plain

I am away until Monday. (Auto-reply, no report at all.)
"""

BROKEN_REPORT = """\
From: MAILER-DAEMON@example.org
Subject: Undelivered
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="X"

--X
Content-Type: text/plain

something went wrong
--X--
"""
