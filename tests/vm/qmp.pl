#!/usr/bin/perl
# qmp.pl SOCKET [LOCK] -- JSON...: a minimal QMP client for tests, independent
# of GEARS. Takes LOCK (flock, as gears tools take a VM's QMP lock) when it is
# given and exists, negotiates capabilities, sends each JSON command and prints
# each answer (the "return" or "error" line, events skipped) on its own line.
# Perl (perl-base is essential in Debian) so that no extra package is needed.
use strict;
use warnings;
use Fcntl qw(:flock O_RDWR);
use Socket;

my $path = shift @ARGV;
my $lock;
if (@ARGV && $ARGV[0] ne '--') {
	my $l = shift @ARGV;
	if (-e $l) {
		sysopen($lock, $l, O_RDWR) or die "open $l: $!\n";
		flock($lock, LOCK_EX) or die "flock $l: $!\n";
	}
}
shift @ARGV if @ARGV && $ARGV[0] eq '--';
socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
connect($s, pack_sockaddr_un($path)) or die "connect $path: $!\n";
$s->autoflush(1);
my $greeting = <$s>;
die "no QMP greeting\n" unless defined $greeting && $greeting =~ /"QMP"/;
sub answer {
	while (my $l = <$s>) {
		next if $l =~ /^\{"timestamp"|"event"/;
		$l =~ s/\r?\n$//;
		return $l;
	}
	die "QMP closed\n";
}
print $s '{"execute":"qmp_capabilities"}' . "\n";
answer();
for my $cmd (@ARGV) {
	print $s "$cmd\n";
	print answer(), "\n";
}
close($s);
