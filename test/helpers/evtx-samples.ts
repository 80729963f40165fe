/**
 * The public EVTX samples in test/fixtures (see test/fixtures/SOURCES.md), by short name, for the
 * EVTX reader's and the Windows event mappers' tests.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export const EVTX_SAMPLES = {
  partitionUsb: 'Partition-4DiagnosticParser/sampleFile/Microsoft-Windows-Partition%4Diagnostic.evtx',
  partitionWin11: 'DFIRArtifactMuseum/Windows/EventLogs/Win11/RathbunVM/RathbunVM_W11EventLogs.7z.extracted/Microsoft-Windows-Partition%4Diagnostic.evtx',
  server2022Security: 'DFIRArtifactMuseum/Windows/EventLogs/Server2022/APTSimulatorVM/APTSimulatorVM_EventLogs_Server2022.7z.extracted/logs/Security.evtx',
  system: 'evtx/samples/system.evtx',
  security: 'evtx/samples/security.evtx',
  securityShort: 'evtx/samples/Security_short_selected.evtx',
  newUser: 'evtx/samples/new-user-security.evtx',
  noCrc: 'evtx/samples/Application_no_crc32.evtx',
  printNightmare: 'EVTX-to-MITRE-Attack/EVTX_full_APT_attack_steps/ID4674,6416 New external device connected (PrintNightmare).evtx',
  systemNightmare: 'EVTX-to-MITRE-Attack/TA0004-Privilege Escalation/T1574-DLL side-loading/ID4688,6416,4648-SystemNightMare.evtx',
  sethc: 'EVTX-to-MITRE-Attack/TA0004-Privilege Escalation/T1546-Image File Execution Options Injection/ID4656-Failed sethc replacement by CMD.evtx',
  mimikatz: 'EVTX-to-MITRE-Attack/TA0006-Credential Access/T1003-Credential dumping/ID4656-4663-4658 Mimikatz sekurlsa password dump.evtx',
  taskmgrLsass: 'EVTX-to-MITRE-Attack/TA0006-Credential Access/T1003-Credential dumping/ID4663-Task Manager used to dump LSASS process.evtx',
  hiddenUser: 'EVTX-to-MITRE-Attack/TA0003-Persistence/T1136-Create account/ID472, 4728 Hidden user creation.evtx',
  sshBrute: 'EVTX-to-MITRE-Attack/TA0006-Credential Access/T1110.xxx-Brut force/ID4625-OpenSSH brutforce with valid users.evtx',
  rdp: 'EVTX-to-MITRE-Attack/TA0001-Initial access/T1078-Valid accounts/ID1149-RDP success logins to multiple hosts.evtx',
  wmiexec: 'EVTX-to-MITRE-Attack/EVTX_full_APT_attack_steps/ID4688,5140,5145-WMIexec execution via SMB (GLOBAL).evtx',
  smbPayload: 'EVTX-to-MITRE-Attack/EVTX_full_APT_attack_steps/ID5140-5145,4688,4697-Encrypted payload deployed with service over SMB (GLOBAL).evtx',
  server2022Sysmon: 'DFIRArtifactMuseum/Windows/EventLogs/Server2022/APTSimulatorVM/APTSimulatorVM_EventLogs_Server2022.7z.extracted/logs/Microsoft-Windows-Sysmon%4Operational.evtx',
  rdpVss: 'evtx/samples/2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx',
} as const;

export function loadFixture(path: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, path)));
}
