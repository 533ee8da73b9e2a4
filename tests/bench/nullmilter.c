/*
 * nullmilter - a do-nothing libmilter filter, the peer for benchmark
 * ratios.
 *
 * Plain libmilter, dynamically linked, every callback registered and
 * answering SMFIS_CONTINUE (eom: SMFIS_ACCEPT), no negotiation tricks:
 * this is what a naive filter costs an MTA.
 *
 *   nullmilter -p unix:/path | inet:PORT@127.0.0.1 [-T timeout]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static sfsistat	null_connect(SMFICTX *, char *, _SOCK_ADDR *);
static sfsistat	null_helo(SMFICTX *, char *);
static sfsistat	null_envfrom(SMFICTX *, char **);
static sfsistat	null_envrcpt(SMFICTX *, char **);
static sfsistat	null_header(SMFICTX *, char *, char *);
static sfsistat	null_eoh(SMFICTX *);
static sfsistat	null_body(SMFICTX *, unsigned char *, size_t);
static sfsistat	null_eom(SMFICTX *);
static sfsistat	null_abort(SMFICTX *);
static sfsistat	null_close(SMFICTX *);
static sfsistat	null_data(SMFICTX *);

/* null_connect - connection information */
static sfsistat
null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)ctx; (void)host; (void)sa;
	return SMFIS_CONTINUE;
}

/* null_helo - HELO/EHLO */
static sfsistat
null_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx; (void)helo;
	return SMFIS_CONTINUE;
}

/* null_envfrom - MAIL FROM */
static sfsistat
null_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return SMFIS_CONTINUE;
}

/* null_envrcpt - RCPT TO */
static sfsistat
null_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return SMFIS_CONTINUE;
}

/* null_data - DATA */
static sfsistat
null_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* null_header - one header */
static sfsistat
null_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx; (void)name; (void)value;
	return SMFIS_CONTINUE;
}

/* null_eoh - end of headers */
static sfsistat
null_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* null_body - one body chunk */
static sfsistat
null_body(SMFICTX *ctx, unsigned char *b, size_t n)
{
	(void)ctx; (void)b; (void)n;
	return SMFIS_CONTINUE;
}

/* null_eom - end of message */
static sfsistat
null_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

/* null_abort - message aborted */
static sfsistat
null_abort(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* null_close - connection closed */
static sfsistat
null_close(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

int
main(int argc, char **argv)
{
	struct smfiDesc desc;
	const char *spec = NULL;
	int ch, timeout = 30;

	while ((ch = getopt(argc, argv, "p:T:")) != -1) {
		switch (ch) {
		case 'p':
			spec = optarg;
			break;
		case 'T':
			timeout = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (spec == NULL)
		goto usage;

	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = (char *)"nullmilter";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = 0;
	desc.xxfi_connect = null_connect;
	desc.xxfi_helo = null_helo;
	desc.xxfi_envfrom = null_envfrom;
	desc.xxfi_envrcpt = null_envrcpt;
	desc.xxfi_header = null_header;
	desc.xxfi_eoh = null_eoh;
	desc.xxfi_body = null_body;
	desc.xxfi_eom = null_eom;
	desc.xxfi_abort = null_abort;
	desc.xxfi_close = null_close;
	desc.xxfi_data = null_data;

	if (smfi_setconn((char *)spec) == MI_FAILURE ||
	    smfi_settimeout(timeout) == MI_FAILURE ||
	    smfi_register(desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "nullmilter: cannot listen on %s\n", spec);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
usage:
	fprintf(stderr, "usage: nullmilter -p SOCKET [-T timeout]\n");
	return 2;
}
