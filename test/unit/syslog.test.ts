/**
 * Syslog framing against the real samples: every plaso syslog variant file (log2timeline/plaso
 * test_data/syslog, Apache-2.0) and the lnav syslog and journald samples (tstack/lnav, BSD-2-Clause),
 * line by line, with exact expected fields. Year inference (reference time, December → January,
 * Feb 29) is checked with its note.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSyslogFramer, parseSyslogLine, splitSyslogMessages, type SyslogFrame } from '../../src/parsers/syslog.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

function linesOf(file: string): string[] {
  const lines = readFileSync(join(FIXTURES, file), 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function frameFile(file: string, referenceTime: string, utcOffsetMinutes?: number): SyslogFrame[] {
  const framer = createSyslogFramer(utcOffsetMinutes === undefined ? {} : { utcOffsetMinutes });
  return linesOf(file).flatMap((line) => framer.frame(line, referenceTime));
}

/** The fields the tables pin down (timeNote, year, month and journal fields are checked separately). */
function visible(f: SyslogFrame): Omit<SyslogFrame, 'timeNote' | 'year' | 'month' | 'journal'> {
  const { timeNote: _t, year: _y, month: _m, journal: _j, ...rest } = f;
  return rest;
}

// Reference time for the plaso files: the plaso tests date these events in 2012.
const PLASO_REF = '2012-12-31T23:59:59Z';
const PLASO: Record<string, Omit<SyslogFrame, 'timeNote' | 'year' | 'month' | 'journal'>[]> = {
  'plaso/test_data/syslog/syslog': [
    {message:"INFO No new content in ímynd.dd.",format:"rfc3164",time:"2012-01-22T07:52:33.000000Z",host:"myhostname.myhost.com",program:"client",pid:30840},
    {message:"INFO No change in [/etc/netgroup]. Done",format:"rfc3164",time:"2012-01-22T07:52:33.000000Z",host:"myhostname.myhost.com",program:"client",pid:30840},
    {message:"(root) CMD (touch /var/run/crond.somecheck)",format:"rfc3164",time:"2012-01-22T07:53:01.000000Z",host:"myhostname.myhost.com",program:"CRON",pid:31051},
    {message:"(root) CMD (touch /var/run/crond.somecheck)",format:"rfc3164",time:"2012-01-22T07:54:01.000000Z",host:"myhostname.myhost.com",program:"CRON",pid:31068},
    {message:"(root) CMD (/sbin/status.mycheck))",format:"rfc3164",time:"2012-01-22T07:54:01.000000Z",host:"myhostname.myhost.com",program:"CRON",pid:31067},
    {message:"Job `cron.daily' terminated",format:"rfc3164",time:"2012-01-22T07:54:32.000000Z",host:"myhostname.myhost.com"},
    {message:"--- testing leap year in parsing, events take place in 2012 ---",format:"rfc3164",time:"2012-02-29T01:15:43.000000Z"},
    {message:"MMM 22 07:54:32 myhostname.myhost.com anacron[29782]: Normal exit (1 job run)",format:"unknown"},
    {message:"No true exit can exist (124 job run)",format:"rfc3164",time:"2012-12-18T17:54:32.000000Z",host:"myhostname.myhost.com",program:"anacron",pid:1234},
    {message:"This syslog message is brought to you by me (and not the other guy)",format:"rfc3164",time:"2012-03-23T23:01:18.000000Z",host:"myhostname.myhost.com",program:"somrandomexe",pid:1915},
    {message:"This syslog message has a fractional value for seconds.",format:"rfc3164",time:"2012-03-23T23:01:18.123000Z",host:"myhostname.myhost.com",program:"somrandomexe",pid:19},
    {message:"Another one just like this (124 job run)",format:"rfc3164",time:"2012-12-31T17:54:32.000000Z",host:"myhostname.myhost.com",program:"/sbin/anacron",pid:1234},
    {message:"This is a multi-line message that screws up",format:"rfc3164",time:"2012-11-18T01:15:20.000000Z",host:"myhostname.myhost.com",program:"aprocess",pid:10100},
    {message:"many syslog parsers.",format:"rfc3164",continuation:true,time:"2012-11-18T01:15:20.000000Z",host:"myhostname.myhost.com",program:"aprocess",pid:10100},
    {message:"Test message with single character day",format:"rfc3164",time:"2012-02-06T15:16:30.000000Z",host:"victoria",program:"process",pid:2085},
    {message:"--- last message repeated 5 times ---",format:"rfc3164",time:"2012-11-18T01:15:43.000000Z",repeated:5},
    {message:"[997.390602] sda2: rw=0, want=65, limit=2",format:"rfc3164",time:"2012-11-18T08:30:20.000000Z",program:"kernel"},
    {message:"[998.390602] sda2: rw=0, want=66, limit=2",format:"rfc3164",time:"2012-11-18T08:31:20.000000Z",host:"victoria",program:"kernel"},
  ],
  'plaso/test_data/syslog/syslog_chromeos': [
    {message:"cleanup_logs: job completed",format:"rsyslog-iso",time:"2016-10-25T19:37:23.297265Z",severity:"info",program:"periodic_scheduler",pid:13707},
    {message:"trim: running chromeos-trim",format:"rsyslog-iso",time:"2016-10-25T19:37:23.742610Z",severity:"info",program:"periodic_scheduler",pid:13714},
    {message:"[  316.559919] wlan0: deauthenticating from 94:b4:0f:ff:9a:b0 by local choice (reason=3)",format:"rsyslog-iso",time:"2016-10-25T19:37:24.987014Z",severity:"debug",program:"kernel"},
    {message:"[  316.561088] init: debugd main process (10086) killed by TERM signal",format:"rsyslog-iso",time:"2016-10-25T19:37:24.987995Z",severity:"warning",program:"kernel"},
    {message:"[  316.566106] wlan0: moving STA 94:b4:0f:ff:9a:b0 to state 3",format:"rsyslog-iso",time:"2016-10-25T19:37:24.993079Z",severity:"debug",program:"kernel"},
    {message:"[  316.578806] ath: phy0: TX while HW is in FULL_SLEEP mode",format:"rsyslog-iso",time:"2016-10-25T19:37:25.007960Z",severity:"err",program:"kernel"},
    {message:"[  316.578824] ath: phy0: TX while HW is in FULL_SLEEP mode",format:"rsyslog-iso",time:"2016-10-25T19:37:25.007963Z",severity:"err",program:"kernel"},
    {message:"[  316.587330] cfg80211: This is a multi-line",format:"rsyslog-iso",time:"2016-10-25T19:37:25.014015Z",severity:"info",program:"aprocess"},
    {message:"message that screws up many syslog parsers.",format:"rsyslog-iso",continuation:true,time:"2016-10-25T19:37:25.014015Z",program:"aprocess"},
  ],
  'plaso/test_data/syslog/syslog_cron.log': [
    {message:"(root) CMD (touch /tmp/afile.txt)",format:"rfc3164",time:"2012-03-11T00:00:00.000000Z",host:"ubuntu2015",program:"CRON",pid:3},
    {message:"(root) CMD (sleep $(( 1 * 60 )); touch /tmp/afile.txt)",format:"rfc3164",time:"2012-03-11T19:26:39.000000Z",host:"osx-machine",program:"CRON",pid:3},
    {message:"(root) CMD (touch /tmp/afile.txt)",format:"rfc3164",time:"2012-03-11T22:55:30.000000Z",host:"ubuntu2015",program:"CRON",pid:3},
    {message:"(root) CMD (touch /tmp/afile.txt)",format:"rfc3164",time:"2012-03-11T22:55:30.000000Z",host:"ubuntu2015",program:"CRON",pid:3},
    {message:"(root) CMD (touch /tmp/afile.txt)",format:"rfc3164",time:"2012-03-11T22:55:31.000000Z",host:"ubuntu2015",program:"CRON",pid:3},
    {message:"(root) CMD (touch /tmp/afile.txt)",format:"rfc3164",time:"2012-03-11T22:55:32.000000Z",host:"ubuntu2015",program:"CRON",pid:3},
    {message:"(root) CMD (touch /var/run/crond.somecheck)",format:"rfc3164",time:"2012-01-22T07:53:01.000000Z",host:"myhostname.myhost.com",program:"CRON",pid:31051},
    {message:"(root) CMD (touch /var/run/crond.somecheck)",format:"rfc3164",time:"2012-01-22T07:54:01.000000Z",host:"myhostname.myhost.com",program:"CRON",pid:31068},
    {message:"(root) CMD (/sbin/status.mycheck)",format:"rfc3164",time:"2012-01-22T07:54:01.000000Z",host:"myhostname.myhost.com",program:"CRON",pid:31067},
  ],
  'plaso/test_data/syslog/syslog_osx': [
    {message:"AppleThunderboltNHIType2::prePCIWake - power up complete - took 1 us",format:"rfc3164",time:"2012-03-11T19:26:39.000000Z",host:"osx-machine",program:"kernel",pid:0},
    {message:"launchd Allow TCP LISTEN (in:0 out:2)",format:"rfc3164",time:"2012-03-11T19:26:45.000000Z",host:"osx-machine",program:"sockerfilterfw",pid:1985,severity:"info"},
  ],
  'plaso/test_data/syslog/syslog_rsyslog': [
    {message:"message repeated 76 times: [-- MARK --]",format:"rsyslog-iso",time:"2020-05-31T00:00:45.698463Z",host:"localhost",program:"rsyslogd",repeated:76},
    {message:"[origin software=\"rsyslogd\" swVersion=\"8.33.1\" x-pid=\"1138\" x-info=\"http://www.rsyslog.com\"] rsyslogd was HUPed",format:"rsyslog-iso",time:"2020-05-31T00:00:45.698885Z",host:"localhost",program:"rsyslogd"},
    {message:"Reloaded System Logging Service.",format:"rsyslog-iso",time:"2020-05-31T00:00:45.738158Z",host:"localhost",program:"systemd",pid:1},
    {message:"Started Rotate log files.",format:"rsyslog-iso",time:"2020-05-31T00:00:46.599903Z",host:"localhost",program:"systemd",pid:1},
    {message:"Started Do daily mandb update.",format:"rsyslog-iso",time:"2020-05-31T00:00:47.044800Z",host:"localhost",program:"systemd",pid:1},
  ],
  'plaso/test_data/syslog/syslog_rsyslog_ForwardFormat': [
    {message:"log_tag this is debug",format:"rsyslog-iso",priority:15,time:"2021-03-06T04:07:33.194677Z",host:"hostname"},
    {message:"log_tag this is info",format:"rsyslog-iso",priority:14,time:"2021-03-06T04:07:33.196352Z",host:"hostname"},
    {message:"with another line",format:"rsyslog-iso",continuation:true,time:"2021-03-06T04:07:33.196352Z",host:"hostname"},
    {message:"log_tag !@#$%^&*()-_=+[]{}\\|;:'\",./<>?",format:"rsyslog-iso",priority:14,time:"2021-03-06T04:07:33.196417Z",host:"hostname"},
    {message:"log_tag this is critical",format:"rsyslog-iso",priority:10,time:"2021-03-06T04:07:33.196443Z",host:"hostname"},
    {message:"Stopping Regular background program processing daemon...",format:"rsyslog-iso",priority:30,time:"2021-03-06T04:07:33.203756Z",host:"hostname",program:"systemd",pid:1},
    {message:"Stopped Regular background program processing daemon.",format:"rsyslog-iso",priority:30,time:"2021-03-06T04:07:33.205165Z",host:"hostname",program:"systemd",pid:1},
    {message:"Started Regular background program processing daemon.",format:"rsyslog-iso",priority:30,time:"2021-03-06T04:07:33.206201Z",host:"hostname",program:"systemd",pid:1},
    {message:"(CRON) INFO (pidfile fd = 3)",format:"rsyslog-iso",priority:78,time:"2021-03-06T04:07:33.208713Z",host:"hostname",program:"cron",pid:18854},
    {message:"(CRON) INFO (Skipping @reboot jobs -- not system startup)",format:"rsyslog-iso",priority:78,time:"2021-03-06T04:07:33.208764Z",host:"hostname",program:"cron",pid:18854},
  ],
  'plaso/test_data/syslog/syslog_rsyslog_SysklogdFileFormat': [
    {message:"log_tag this is debug",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname"},
    {message:"log_tag this is info",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname"},
    {message:"with another line",format:"rfc3164",continuation:true,time:"2012-03-06T04:07:28.000000Z",host:"hostname"},
    {message:"log_tag !@#$%^&*()-_=+[]{}\\|;:'\",./<>?",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname"},
    {message:"log_tag this is critical",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname"},
    {message:"Stopping Regular background program processing daemon...",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname",program:"systemd",pid:1},
    {message:"Stopped Regular background program processing daemon.",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname",program:"systemd",pid:1},
    {message:"Started Regular background program processing daemon.",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname",program:"systemd",pid:1},
    {message:"(CRON) INFO (pidfile fd = 3)",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname",program:"cron",pid:18810},
    {message:"(CRON) INFO (Skipping @reboot jobs -- not system startup)",format:"rfc3164",time:"2012-03-06T04:07:28.000000Z",host:"hostname",program:"cron",pid:18810},
  ],
  'plaso/test_data/syslog/syslog_rsyslog_SyslogProtocol23Format': [
    {message:"this is debug",format:"rfc5424",priority:15,time:"2021-03-06T04:07:38.251122Z",host:"hostname",program:"log_tag",msgid:"123"},
    {message:"this is info",format:"rfc5424",priority:14,time:"2021-03-06T04:07:38.251280Z",host:"hostname",program:"log_tag"},
    {message:"with another line",format:"rfc5424",continuation:true,time:"2021-03-06T04:07:38.251280Z",host:"hostname",program:"log_tag"},
    {message:"!@#$%^&*()-_=+[]{}\\|;:'\",./<>?",format:"rfc5424",priority:14,time:"2021-03-06T04:07:38.251318Z",host:"hostname",program:"log_tag"},
    {message:"this is critical",format:"rfc5424",priority:10,time:"2021-03-06T04:07:38.251352Z",host:"hostname",program:"log_tag"},
    {message:"Stopping Regular background program processing daemon...",format:"rfc5424",priority:30,time:"2021-03-06T04:07:38.263426Z",host:"hostname",program:"systemd",pid:1},
    {message:"Stopped Regular background program processing daemon.",format:"rfc5424",priority:30,time:"2021-03-06T04:07:38.265164Z",host:"hostname",program:"systemd",pid:1},
    {message:"Started Regular background program processing daemon.",format:"rfc5424",priority:30,time:"2021-03-06T04:07:38.265422Z",host:"hostname",program:"systemd",pid:1},
    {message:"(CRON) INFO (pidfile fd = 3)",format:"rfc5424",priority:78,time:"2021-03-06T04:07:38.268395Z",host:"hostname",program:"cron",pid:18898},
    {message:"(CRON) INFO (Skipping @reboot jobs -- not system startup)",format:"rfc5424",priority:78,time:"2021-03-06T04:07:38.269077Z",host:"hostname",program:"cron",pid:18898},
  ],
  'plaso/test_data/syslog/syslog_rsyslog_TraditionalForwardFormat': [
    {message:"log_tag this is debug",format:"rfc3164",priority:15,time:"2012-03-06T04:07:23.000000Z",host:"hostname"},
    {message:"log_tag this is info",format:"rfc3164",priority:14,time:"2012-03-06T04:07:23.000000Z",host:"hostname"},
    {message:"with another line",format:"rfc3164",continuation:true,time:"2012-03-06T04:07:23.000000Z",host:"hostname"},
    {message:"log_tag !@#$%^&*()-_=+[]{}\\|;:'\",./<>?",format:"rfc3164",priority:14,time:"2012-03-06T04:07:23.000000Z",host:"hostname"},
    {message:"log_tag this is critical",format:"rfc3164",priority:10,time:"2012-03-06T04:07:23.000000Z",host:"hostname"},
    {message:"Stopping Regular background program processing daemon...",format:"rfc3164",priority:30,time:"2012-03-06T04:07:23.000000Z",host:"hostname",program:"systemd",pid:1},
    {message:"Stopped Regular background program processing daemon.",format:"rfc3164",priority:30,time:"2012-03-06T04:07:23.000000Z",host:"hostname",program:"systemd",pid:1},
    {message:"Started Regular background program processing daemon.",format:"rfc3164",priority:30,time:"2012-03-06T04:07:23.000000Z",host:"hostname",program:"systemd",pid:1},
    {message:"(CRON) INFO (pidfile fd = 3)",format:"rfc3164",priority:78,time:"2012-03-06T04:07:23.000000Z",host:"hostname",program:"cron",pid:18786},
    {message:"(CRON) INFO (Skipping @reboot jobs -- not system startup)",format:"rfc3164",priority:78,time:"2012-03-06T04:07:23.000000Z",host:"hostname",program:"cron",pid:18786},
  ],
  'plaso/test_data/syslog/syslog_rsyslog_traditional': [
    {message:"Job `cron.daily' terminated",format:"rfc3164",time:"2012-01-22T07:54:32.000000Z",host:"myhostname.myhost.com"},
    {message:"PRC: Renewing lease on enp0s3.",format:"rfc3164",time:"2012-03-11T09:39:38.000000Z",host:"ubuntu2015",program:"dhclient"},
    {message:"--- last message repeated 5 times ---",format:"rfc3164",time:"2012-03-11T09:39:39.000000Z",repeated:5},
    {message:"(root) CMD (   cd / && run-parts --report /etc/cron.hourly)",format:"rfc3164",time:"2012-03-11T12:17:01.000000Z",host:"ubuntu2015",program:"CRON",pid:11068},
    {message:"INFO: CommitPackages() was called: dbus.Array([dbus.String('')],",format:"rfc3164",time:"2012-03-11T22:55:30.000000Z",host:"ubuntu2015",program:"AptDaemon"},
    {message:"signature=dbus.Signature('s')), dbus.Array([dbus.String('')], signature=dbus.Signature('s')), dbus.Ar",format:"rfc3164",continuation:true,time:"2012-03-11T22:55:30.000000Z",host:"ubuntu2015",program:"AptDaemon"},
    {message:"(unity-music-daemon:27902): unity-music-daemon-WARNING",format:"rfc3164",time:"2012-03-11T22:58:58.000000Z",host:"ubuntu2015",program:"com.canonical.Unity.Scope.Music",pid:1378},
    {message:"**: rhythmbox-collection.vala:574: Error while parsing rhythmbox DB: Error opening file: No such file or directory",format:"rfc3164",continuation:true,time:"2012-03-11T22:58:58.000000Z",host:"ubuntu2015",program:"com.canonical.Unity.Scope.Music",pid:1378},
    {message:"23:07:04 AptDaemon [INFO]: Quitting was requested",format:"rfc3164",time:"2012-03-11T23:07:04.000000Z",host:"ubuntu2015",program:"org.debian.apt",pid:557},
    {message:"This is a multi-line message that screws up",format:"rfc3164",time:"2012-11-18T01:15:20.000000Z",host:"myhostname.myhost.com",program:"aprocess",pid:101001},
    {message:"many syslog parsers.",format:"rfc3164",continuation:true,time:"2012-11-18T01:15:20.000000Z",host:"myhostname.myhost.com",program:"aprocess",pid:101001},
  ],
  'plaso/test_data/syslog/syslog_ssh.log': [
    {message:"Server listening on 0.0.0.0 port 22.",format:"rfc3164",time:"2012-03-11T00:00:00.000000Z",host:"ubuntu2015",program:"sshd",pid:3},
    {message:"Accepted publickey for plaso from 192.168.0.1 port 59229 ssh2: RSA 00:aa:bb:cc:dd:ee:ff:11:22:33:44:55:66:77:88:99",format:"rfc3164",time:"2012-03-11T19:26:39.000000Z",host:"osx-machine",program:"sshd",pid:3},
    {message:"Accepted password for plaso from 2001:0db8:0a0b:12f0:0000:0000:0000:0001 port 42532  ssh2",format:"rfc3164",time:"2012-03-11T22:55:30.000000Z",host:"ubuntu2015",program:"sshd",pid:3},
    {message:"Failed publickey for plaso from 001:db8:a0b:12f0::1 port 8759",format:"rfc3164",time:"2012-03-11T22:55:30.000000Z",host:"ubuntu2015",program:"sshd",pid:3},
    {message:"Connection from 188.124.3.41 port 32889",format:"rfc3164",time:"2012-03-11T22:55:31.000000Z",host:"ubuntu2015",program:"sshd",pid:3},
    {message:"Failed password for root from 188.124.3.41 port 32889 ssh2",format:"rfc3164",time:"2012-03-11T22:55:32.000000Z",host:"ubuntu2015",program:"sshd",pid:3},
    {message:"Accepted publickey for fred from 192.0.2.60 port 60594 ssh2: RSA e8:31:68:c7:01:2d:25:20:36:8f:50:5d:f9:ee:70:4c",format:"rfc3164",time:"2012-03-11T22:55:33.000000Z",host:"ubuntu2015",program:"sshd",pid:3},
    {message:"Accepted publickey for fred from 192.0.2.60 port 20042 ssh2",format:"rfc3164",time:"2012-03-11T22:55:34.000000Z",host:"ubuntu2015",program:"sshd",pid:3},
    {message:"Accepted publickey for fred from 192.0.2.60 port 59915 ssh2: RSA SHA256:5xyQ+PG1Z3CIiShclJ2iNya5TOdKDgE/HrOXr21IdOo",format:"rfc3164",time:"2012-03-11T22:55:35.000000Z",host:"ubuntu2015",program:"sshd",pid:3},
  ],
};

// Reference time for the lnav files: early January, so the December lines fall in the previous year.
const LNAV_REF = '2026-01-10T00:00:00Z';
const LNAV: Record<string, Omit<SyslogFrame, 'timeNote' | 'year' | 'month' | 'journal'>[]> = {
  'lnav/test/logfile_syslog.0': [
    {message:"lookup(file): lookup for foobar failed",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:7998},
    {message:"attempting to mount entry /auto/opt",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:16442},
    {message:"lookup(file): lookup for opt failed",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:7999},
    {message:"timstack : TTY=pts/6 ; PWD=/auto/wstimstack/rpms/lbuild/test ; USER=root ; COMMAND=/usr/bin/tail /var/log/messages",format:"rfc3164",time:"2025-11-03T09:47:02.000000Z",host:"veridian",program:"sudo"},
  ],
  'lnav/test/logfile_syslog.1': [
    {message:"lookup(file): lookup for foobar failed",format:"rfc3164",time:"2025-12-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:7998},
    {message:"attempting to mount entry /auto/opt",format:"rfc3164",time:"2025-12-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:16442},
    {message:"lookup(file): lookup for opt failed",format:"rfc3164",time:"2025-12-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:7999},
    {message:"timstack : TTY=pts/6 ; PWD=/auto/wstimstack/rpms/lbuild/test ; USER=root ; COMMAND=/usr/bin/tail /var/log/messages",format:"rfc3164",time:"2026-01-03T09:47:02.000000Z",host:"veridian",program:"sudo"},
  ],
  'lnav/test/logfile_syslog.2': [
    {message:"eth0 is up",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"foo",pid:7998},
    {message:"eth1 is up",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"foo",pid:16442},
    {message:"eth0 is down",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"foo",pid:7999},
  ],
  'lnav/test/logfile_syslog.3': [
    {message:"ASL Sender Statistics",format:"rfc3164",time:"2025-08-16T00:10:45.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"ASL Sender Statistics",format:"rfc3164",time:"2025-08-16T00:28:56.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Configuration Notice:",format:"rfc3164",time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"ASL Module \"com.apple.cdscheduler\" claims selected messages.",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Those messages may not appear in standard system log files or in the ASL database.",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Configuration Notice:",format:"rfc3164",time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"ASL Module \"com.apple.install\" claims selected messages.",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Those messages may not appear in standard system log files or in the ASL database.",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Configuration Notice:",format:"rfc3164",time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"ASL Module \"com.apple.authd\" sharing output destination \"/var/log/asl\" with ASL Module \"com.apple.asl\".",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Output parameters from ASL Module \"com.apple.asl\" override any specified in ASL Module \"com.apple.authd\".",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Configuration Notice:",format:"rfc3164",time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"ASL Module \"com.apple.authd\" sharing output destination \"/var/log/system.log\" with ASL Module \"com.apple.asl\".",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Output parameters from ASL Module \"com.apple.asl\" override any specified in ASL Module \"com.apple.authd\".",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Configuration Notice:",format:"rfc3164",time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"ASL Module \"com.apple.authd\" claims selected messages.",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
    {message:"Those messages may not appear in standard system log files or in the ASL database.",format:"rfc3164",continuation:true,time:"2025-08-16T00:32:15.000000Z",host:"Tims-Air",program:"syslogd",pid:314},
  ],
  'lnav/test/logfile_syslog_with_header.0': [
    {message:"Header1: abc",format:"unknown"},
    {message:"Header2: def",format:"unknown"},
    {message:"lookup(file): lookup for foobar failed",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:7998},
    {message:"attempting to mount entry /auto/opt",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:16442},
    {message:"lookup(file): lookup for opt failed",format:"rfc3164",time:"2025-11-03T09:23:38.000000Z",host:"veridian",program:"automount",pid:7999},
    {message:"timstack : TTY=pts/6 ; PWD=/auto/wstimstack/rpms/lbuild/test ; USER=root ; COMMAND=/usr/bin/tail /var/log/messages",format:"rfc3164",time:"2025-11-03T09:47:02.000000Z",host:"veridian",program:"sudo"},
  ],
  'lnav/test/logfile_journald.json': [
    {message:"GPS Reference longitude: 7.358143333",format:"journal-json",time:"2018-08-21T14:04:21.221373Z",host:"imx6ul-medusa",program:"python",pid:184,severity:"alert",priority:25},
    {message:"GPS Reference latitude: 46.908706667",format:"journal-json",time:"2018-08-21T14:04:21.221373Z",host:"imx6ul-medusa",program:"python",pid:184,severity:"info",priority:30},
  ],
};

describe('syslog framing: plaso syslog variants, line by line', () => {
  for (const [file, expected] of Object.entries(PLASO)) {
    it(file, () => {
      expect(frameFile(file, PLASO_REF).map(visible)).toEqual(expected);
    });
  }
});

describe('syslog framing: lnav samples, line by line', () => {
  for (const [file, expected] of Object.entries(LNAV)) {
    it(file, () => {
      expect(frameFile(file, LNAV_REF).map(visible)).toEqual(expected);
    });
  }

  it('journald export: every string field is kept, __REALTIME_TIMESTAMP is microseconds', () => {
    const [first] = frameFile('lnav/test/logfile_journald.json', LNAV_REF);
    expect(first?.journal?.['_BOOT_ID']).toBe('0dc874d3fbd44bdbb6fbcfaa27481492');
    expect(first?.journal?.['__MONOTONIC_TIMESTAMP']).toBe('38708007');
    expect(first?.journal?.['_SYSTEMD_UNIT']).toBe('medusa-GpsLocator.service');
    expect(first?.timeNote).toBeUndefined();
  });
});

describe('year inference for RFC 3164 dates', () => {
  it('December → January inside a file moves to the next year, and says so', () => {
    const frames = frameFile('lnav/test/logfile_syslog.1', '2026-01-10T00:00:00Z');
    expect(frames.map((f) => f.year)).toEqual([2025, 2025, 2025, 2026]);
    expect(frames[0]?.timeNote).toBe(
      'year 2025 inferred from reference time 2026-01-10T00:00:00Z; local time, zone unknown, read as UTC',
    );
    expect(frames[1]?.timeNote).toBe('year 2025 inferred from the previous line; local time, zone unknown, read as UTC');
    expect(frames[3]?.timeNote).toBe('year 2026 inferred: rollover from Dec 2025 to Jan; local time, zone unknown, read as UTC');
  });

  it('rotation order: the older file of a rotated pair gets the year from its own time', () => {
    // logfile_syslog.1 (Dec→Jan, last written in January) then logfile_syslog.0 (November, a later rotation).
    const older = frameFile('lnav/test/logfile_syslog.1', '2026-01-03T09:47:02Z');
    const newer = frameFile('lnav/test/logfile_syslog.0', '2026-11-03T09:47:02Z');
    expect(older.map((f) => f.time?.slice(0, 10))).toEqual(['2025-12-03', '2025-12-03', '2025-12-03', '2026-01-03']);
    expect(newer.map((f) => f.time?.slice(0, 10))).toEqual(['2026-11-03', '2026-11-03', '2026-11-03', '2026-11-03']);
  });

  it('a date after the reference time belongs to the previous year', () => {
    const frames = frameFile('lnav/test/logfile_syslog.0', '2026-10-01T00:00:00Z');
    expect(frames[0]?.time).toBe('2025-11-03T09:23:38.000000Z');
  });

  it('Feb 29 (plaso "leap year" line) exists in 2012: the year from the previous line stands', () => {
    const frames = frameFile('plaso/test_data/syslog/syslog', '2012-03-01T00:00:00Z');
    const leap = frames[6];
    expect(leap?.message).toBe('--- testing leap year in parsing, events take place in 2012 ---');
    expect(leap?.time).toBe('2012-02-29T01:15:43.000000Z');
    expect(leap?.timeNote).toBe('year 2012 inferred from the previous line; local time, zone unknown, read as UTC');
  });

  it('Feb 29 with a reference time in a common year goes back to the last leap year, and says why', () => {
    const lines = linesOf('plaso/test_data/syslog/syslog');
    const leapLine = lines[6] ?? '';
    const f = parseSyslogLine(leapLine, { referenceTime: '2013-06-01T00:00:00Z' });
    expect(f.time).toBe('2012-02-29T01:15:43.000000Z');
    expect(f.timeNote).toBe(
      'year 2012 inferred from reference time 2013-06-01T00:00:00Z; Feb 29 does not exist in 2013; local time, zone unknown, read as UTC',
    );
    // Following a line dated 2013, the previous line's year cannot hold either.
    const g = parseSyslogLine(leapLine, { referenceTime: '2013-06-01T00:00:00Z', previousYear: 2013, previousMonth: 1 });
    expect(g.time).toBe('2012-02-29T01:15:43.000000Z');
    expect(g.timeNote).toBe(
      'year 2012 inferred from reference time 2013-06-01T00:00:00Z; Feb 29 does not exist in 2013; local time, zone unknown, read as UTC',
    );
  });

  it('a line that would fall after the reference time if it followed the previous year falls back to the reference', () => {
    // plaso's file jumps Dec 18 → Mar 23: rolling over to 2013 would be after the file's time.
    const frames = frameFile('plaso/test_data/syslog/syslog', PLASO_REF);
    expect(frames[9]?.time).toBe('2012-03-23T23:01:18.000000Z');
    expect(frames[9]?.timeNote).toBe(
      "year 2012 inferred from reference time 2012-12-31T23:59:59Z; the previous line's year 2013 would put it after the reference time; local time, zone unknown, read as UTC",
    );
  });

  it('a known zone offset is applied to year-less local times', () => {
    const frames = frameFile('lnav/test/logfile_syslog.2', '2026-01-10T00:00:00Z', 9 * 60);
    expect(frames[0]?.time).toBe('2025-11-03T00:23:38.000000Z');
    expect(frames[0]?.timeNote).toBe('year 2025 inferred from reference time 2026-01-10T00:00:00Z; local time read as UTC+09:00');
  });

  it('no reference time and no previous line: no time, and the note says why', () => {
    const f = parseSyslogLine(linesOf('lnav/test/logfile_syslog.2')[0] ?? '');
    expect(f.time).toBeUndefined();
    expect(f.timeNote).toBe('year unknown: no reference time; local time, zone unknown, read as UTC');
    expect(f.host).toBe('veridian');
  });

  it('a header with a month that is not a month is unknown, not a continuation', () => {
    const frames = frameFile('plaso/test_data/syslog/syslog', PLASO_REF);
    expect(frames[7]).toEqual({
      message: 'MMM 22 07:54:32 myhostname.myhost.com anacron[29782]: Normal exit (1 job run)',
      format: 'unknown',
      timeNote: 'not a month: "MMM"',
    });
  });
});

describe('other framing details', () => {
  it('zone-less ISO timestamps (beats timestamp.log) are local time, noted', () => {
    const frames = frameFile('beats/filebeat/module/system/auth/test/timestamp.log', '2019-06-15T00:00:00Z');
    expect(frames.map((f) => [f.format, f.time, f.timeNote, f.host, f.program])).toEqual([
      ['rsyslog-iso', '2019-06-14T10:40:20.912134Z', 'local time, zone unknown, read as UTC', 'localhost', 'sudo'],
      ['rsyslog-iso', '2019-06-14T11:31:15.412000Z', undefined, 'localhost', 'pam'],
    ]);
  });

  it('forward formats without newlines are split at each <PRI> header only', () => {
    const first = linesOf('plaso/test_data/syslog/syslog_rsyslog_ForwardFormat')[1] ?? '';
    const parts = splitSyslogMessages(first);
    expect(parts.length).toBe(8);
    expect(parts[0]).toBe('with another line');
    expect(parts[1]).toBe(`<14>2021-03-06T04:07:33.196417+00:00 hostname log_tag !@#$%^&*()-_=+[]{}\\|;:'",./<>?`);
    expect(splitSyslogMessages('a <b> c')).toEqual(['a <b> c']);
  });

  it('RFC 5424 structured data is kept apart from the message', () => {
    // The example of RFC 5424 section 6.5 (with an escaped bracket inside a value): no sample file has structured data.
    const f = parseSyslogLine(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appli\\]cation"] An application event log entry...',
    );
    expect(f).toEqual({
      format: 'rfc5424',
      priority: 165,
      time: '2003-10-11T22:14:15.003000Z',
      host: 'mymachine.example.com',
      program: 'evntslog',
      msgid: 'ID47',
      structuredData: '[exampleSDID@32473 iut="3" eventSource="Appli\\]cation"]',
      message: 'An application event log entry...',
    });
  });

  it('journal byte-array values are decoded (lossy) and a missing timestamp is noted', () => {
    const f = parseSyslogLine('{"MESSAGE":[104,105,255],"_HOSTNAME":"h"}');
    expect(f.format).toBe('journal-json');
    expect(f.message).toBe('hi\uFFFD');
    expect(f.timeNote).toBe('no __REALTIME_TIMESTAMP');
  });
});
