#!/usr/bin/perl
# gdb_leave.pl SOCKET LOCK stop|break ADDR: a gdbstub client that goes away
# without detaching, as a crashed debugger would. It takes the gdbstub lock
# like a gears tool, connects (which stops the VM), and then
#   stop        asks why the VM stopped and leaves it stopped (QEMU says
#               "paused"; the supervisor does not resume that yet, so no test
#               uses this mode today: see docs/SPECIFICATION.md);
#   break ADDR  sets a software breakpoint at ADDR (decimal, may be negative:
#               a kernel address as `gears mem --json` prints it), lets the
#               VM run, and leaves the breakpoint set.
# Exits 0 once the state is left behind, 1 on a protocol error. Perl (perl-base
# is essential in Debian) so that no extra package is needed.
use strict;
use warnings;
use Fcntl qw(:flock O_RDWR O_CREAT);
use Socket;
use POSIX ();

my ($path, $lock, $mode, $addr) = @ARGV;
die "usage: $0 SOCKET LOCK stop|break ADDR\n" unless $mode && ($mode eq 'stop' || defined $addr);

sysopen(my $lk, $lock, O_RDWR | O_CREAT, 0600) or die "open $lock: $!\n";
flock($lk, LOCK_EX) or die "flock $lock: $!\n";
socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
connect($s, pack_sockaddr_un($path)) or die "connect $path: $!\n";

sub send_packet {
	my ($p) = @_;
	my $sum = 0;
	$sum = ($sum + ord($_)) % 256 for split //, $p;
	my $pkt = sprintf('$%s#%02x', $p, $sum);
	defined(syswrite($s, $pkt)) or die "write: $!\n";
}

# The next packet's payload (acknowledged), or undef after `secs` seconds.
my $buf = '';
sub recv_packet {
	my ($secs) = @_;
	my $end = time + $secs;
	while (time <= $end) {
		$buf =~ s/^[+-]+//;
		if ($buf =~ s/^[^\$]*\$([^#]*)#..//s) {
			syswrite($s, '+');
			return $1;
		}
		my $rin = '';
		vec($rin, fileno($s), 1) = 1;
		next unless select(my $rout = $rin, undef, undef, 1) > 0;
		my $n = sysread($s, my $chunk, 4096);
		die "gdbstub closed the connection\n" unless $n;
		$buf .= $chunk;
	}
	return undef;
}

# The answer to a command, skipping stop replies QEMU sends on its own.
sub ask {
	my ($cmd, $want) = @_;
	send_packet($cmd);
	for (1 .. 10) {
		my $r = recv_packet(10);
		die "no answer to $cmd\n" unless defined $r;
		return $r if $r =~ $want;
		die "$cmd: $r\n" if $r =~ /^E/;
	}
	die "no answer to $cmd\n";
}

ask('?', qr/^[TS]/);
if ($mode eq 'break') {
	my $hex = sprintf('%x', $addr);
	ask("Z0,$hex,1", qr/^OK$/);
	send_packet('c');	# no answer until the breakpoint is hit
	sleep 1;		# let QEMU take the packet before the socket closes
}
POSIX::_exit(0);	# no D: the VM stays stopped, the breakpoint stays set
