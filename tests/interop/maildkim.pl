#!/usr/bin/perl
# maildkim.pl - Mail::DKIM's side of tests/suites/dkim/dkim-interop.sh.
#   maildkim.pl verify PORT FILE    one result per signature ("pass,fail")
#   maildkim.pl sign KEY SEL DOM CANON FILE   signed message (rsa-sha256)
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Mail::DKIM::Signer;
use Mail::DKIM::DNS;
use Net::DNS::Resolver;

my $cmd = shift;
if ($cmd eq 'verify') {
	my ($port, $file) = @_ = @ARGV;
	Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
	    nameservers => ['127.0.0.1'], port => $port, recurse => 1,
	    udp_timeout => 3, retry => 1));
	my $v = Mail::DKIM::Verifier->new();
	open(my $fh, '<', $file) or die "$file: $!";
	binmode $fh;
	while (<$fh>) { s/\r?\n\z/\015\012/; $v->PRINT($_); }
	$v->CLOSE;
	my @r = map { $_->result } $v->signatures;
	print @r ? join(',', @r) : 'none', "\n";
} elsif ($cmd eq 'sign') {
	my ($key, $sel, $dom, $canon, $file) = @ARGV;
	my $s = Mail::DKIM::Signer->new(Algorithm => 'rsa-sha256',
	    Method => $canon, Domain => $dom, Selector => $sel, KeyFile => $key,
	    Headers => 'from:to:subject:date');
	open(my $fh, '<', $file) or die "$file: $!";
	binmode $fh;
	my $msg = do { local $/; <$fh> };
	my $crlf = $msg =~ /\r\n/;
	for my $l (split /(?<=\n)/, $msg) {
		(my $c = $l) =~ s/\r?\n\z/\015\012/;
		$s->PRINT($c);
	}
	$s->CLOSE;
	my $h = $s->signature->as_string;
	$h =~ s/\r?\n/\n/g;
	$h =~ s/\n/\r\n/g if $crlf;
	binmode STDOUT;
	print $h, ($crlf ? "\r\n" : "\n"), $msg;
} else {
	die "unknown command\n";
}
