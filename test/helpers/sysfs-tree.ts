/**
 * A real directory tree laid out like sysfs (folders, attribute files with their trailing newline,
 * the bus/usb/devices symlinks and the driver links), for a machine with one xHCI root hub and a
 * SanDisk Cruzer Blade (0781:5567) on port 1 whose SCSI disk is sdb. Shaped after the kernel's
 * documented ABI (Documentation/ABI/stable/sysfs-bus-usb) and a real stick's layout.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function put(root: string, rel: string, content: string): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
}

export function makeSysfs(root: string): void {
  const hub = 'devices/pci0000:00/0000:00:14.0/usb1';
  const dev = `${hub}/1-1`;
  const attrs = (dir: string, a: Record<string, string>): void => {
    for (const [k, v] of Object.entries(a)) put(root, `${dir}/${k}`, `${v}\n`);
  };
  attrs(hub, { idVendor: '1d6b', idProduct: '0002', product: 'xHCI Host Controller', manufacturer: 'Linux 6.1.0-18-amd64 xhci-hcd', serial: '0000:00:14.0', busnum: '1', devnum: '1', devpath: '0', speed: '480', version: ' 2.00', bDeviceClass: '09', bDeviceSubClass: '00', bDeviceProtocol: '01', bNumInterfaces: ' 1', removable: 'unknown' });
  attrs(`${hub}/1-0:1.0`, { bInterfaceNumber: '00', bInterfaceClass: '09', bInterfaceSubClass: '00', bInterfaceProtocol: '00' });
  attrs(dev, { idVendor: '0781', idProduct: '5567', bcdDevice: '0100', product: 'Cruzer Blade', manufacturer: 'SanDisk', serial: '4C530001230523116083', busnum: '1', devnum: '5', devpath: '1', speed: '480', version: ' 2.00', bDeviceClass: '00', bDeviceSubClass: '00', bDeviceProtocol: '00', bNumInterfaces: ' 1', removable: 'removable' });
  const iface = `${dev}/1-1:1.0`;
  attrs(iface, { bInterfaceNumber: '00', bInterfaceClass: '08', bInterfaceSubClass: '06', bInterfaceProtocol: '50' });
  mkdirSync(join(root, 'bus/usb/drivers/usb-storage'), { recursive: true });
  mkdirSync(join(root, 'bus/usb/drivers/hub'), { recursive: true });
  symlinkSync('../../../../../../bus/usb/drivers/usb-storage', join(root, iface, 'driver'));
  symlinkSync('../../../../../bus/usb/drivers/hub', join(root, `${hub}/1-0:1.0`, 'driver'));
  const block = `${iface}/host6/target6:0:0/6:0:0:0/block/sdb`;
  attrs(block, { size: '60063744', removable: '1' });
  put(root, `${iface}/host6/target6:0:0/6:0:0:0/vendor`, 'SanDisk \n');
  mkdirSync(join(root, 'bus/usb/devices'), { recursive: true });
  for (const [name, target] of [
    ['usb1', hub],
    ['1-0:1.0', `${hub}/1-0:1.0`],
    ['1-1', dev],
    ['1-1:1.0', iface],
  ] as const) {
    symlinkSync(`../../../${target}`, join(root, 'bus/usb/devices', name));
  }
}

