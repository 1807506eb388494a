using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Polynic.Core.Pci;
using Polynic.Native;
using Polynic.Transport.VfioUser.Protocol;
using static Polynic.Transport.VfioUser.Protocol.VfioConstants;

namespace Polynic.Transport.VfioUser.Server;

internal sealed partial class ClientSession
{
    private void Dispatch(in ReceivedMessage message)
    {
        var header = message.Header;
        bool takesFds = header.Command is Command.DmaMap or Command.DeviceSetIrqs;
        if (message.Fds.Length > _options.MaxMessageFds || message.DroppedFds > 0)
        {
            message.CloseFds();
            ReplyError(header, Errno.EINVAL, $"{message.Fds.Length + message.DroppedFds} file descriptors exceed max_msg_fds {_options.MaxMessageFds}");
            return;
        }
        if (!takesFds && !message.Fds.IsEmpty)
        {
            message.CloseFds();
            ReplyError(header, Errno.EINVAL, $"{message.Fds.Length} file descriptors attached to a command that takes none");
            return;
        }
        if (!_versioned && header.Command != Command.Version)
        {
            message.CloseFds();
            ReplyError(header, Errno.EINVAL, "the first command must be VERSION");
            return;
        }

        var payload = message.Payload;
        switch (header.Command)
        {
            case Command.Version: HandleVersion(header, payload); break;
            case Command.DmaMap: HandleDmaMap(header, payload, message.Fds); break;
            case Command.DmaUnmap: HandleDmaUnmap(header, payload); break;
            case Command.DeviceGetInfo: HandleGetDeviceInfo(header, payload); break;
            case Command.DeviceGetRegionInfo: HandleGetRegionInfo(header, payload); break;
            case Command.DeviceGetIrqInfo: HandleGetIrqInfo(header, payload); break;
            case Command.DeviceSetIrqs: HandleSetIrqs(header, payload, message.Fds); break;
            case Command.RegionRead: HandleRegionRead(header, payload); break;
            case Command.RegionWrite: HandleRegionWrite(header, payload); break;
            case Command.DeviceReset:
                _function.Reset();
                Reply(header, 0);
                break;
            default:
                // Includes GET_REGION_IO_FDS (optional; QEMU's client never sends it) and
                // REGION_WRITE_MULTI (only sent when "write_multiple" was offered, which it is not).
                ReplyError(header, Errno.ENOSYS, $"command {(ushort)header.Command} is not supported");
                break;
        }
    }

    private void HandleVersion(MessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (_versioned) { ReplyError(header, Errno.EINVAL, "VERSION sent twice"); return; }
        if (payload.Length < 4) { ReplyError(header, Errno.EINVAL, "VERSION payload shorter than 4 bytes"); return; }
        ushort major = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        ushort minor = BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]);
        if (major != 0)
        {
            // Spec: the reply's major must equal the proposal; a server that cannot, closes.
            ReplyError(header, Errno.ENOTSUP, $"client proposed protocol {major}.{minor}; this server speaks 0.0");
            BeginClose();
            return;
        }
        var json = payload[4..];
        int end = json.IndexOf((byte)0);
        if (end >= 0) json = json[..end];
        if (!VersionCapabilities.TryParse(json, out var capabilities, out string? error))
        {
            ReplyError(header, Errno.EINVAL, error ?? "bad capabilities");
            BeginClose();
            return;
        }
        _clientMaxTransfer = capabilities.MaxDataTransferSize;

        var reply = _replyBuffer.AsSpan(MessageHeader.Size);
        // Minor 0: QEMU (hw/vfio-user/proxy.c) refuses any minor above the 0 it proposes.
        BinaryPrimitives.WriteUInt16LittleEndian(reply, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(reply[2..], 0);
        _versionReply.CopyTo(reply[4..]);
        if (!Reply(header, 4 + _versionReply.Length)) return;
        _versioned = true;
        _function.Connect(_dma, _interrupts);
        _connected = true;
        _log.LogInformation("{Function}: client negotiated vfio-user 0.0 (its max_data_xfer_size {Transfer}, max_msg_fds {Fds})",
            _function.Name, capabilities.MaxDataTransferSize, capabilities.MaxMessageFds);
    }

    private void HandleGetDeviceInfo(MessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < DeviceInfo.Size || DeviceInfo.Read(payload).ArgSize < DeviceInfo.Size)
        {
            ReplyError(header, Errno.EINVAL, "DEVICE_GET_INFO shorter than 16 bytes or argsz below 16");
            return;
        }
        new DeviceInfo(DeviceInfo.Size, DeviceFlagsPci | DeviceFlagsReset, PciRegionCount, PciIrqCount)
            .Write(_replyBuffer.AsSpan(MessageHeader.Size));
        Reply(header, DeviceInfo.Size);
    }

    private void HandleGetRegionInfo(MessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < RegionInfo.Size) { ReplyError(header, Errno.EINVAL, "DEVICE_GET_REGION_INFO shorter than 32 bytes"); return; }
        var request = RegionInfo.Read(payload);
        // Spec, "Message sizes": argsz is the largest reply payload the client can take; the
        // fixed part must fit. No capabilities are reported, so 32 is always enough.
        if (request.ArgSize < RegionInfo.Size) { ReplyError(header, Errno.EINVAL, $"region info argsz {request.ArgSize} is below 32"); return; }
        if (request.Index >= PciRegionCount) { ReplyError(header, Errno.EINVAL, $"no region {request.Index}"); return; }
        ulong size = RegionSize((int)request.Index);
        uint flags = size == 0 ? 0 : RegionInfoFlagRead | RegionInfoFlagWrite;
        new RegionInfo(RegionInfo.Size, flags, request.Index, 0, size, 0).Write(_replyBuffer.AsSpan(MessageHeader.Size));
        Reply(header, RegionInfo.Size);
    }

    private void HandleGetIrqInfo(MessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < IrqInfo.Size) { ReplyError(header, Errno.EINVAL, "DEVICE_GET_IRQ_INFO shorter than 16 bytes"); return; }
        var request = IrqInfo.Read(payload);
        if (request.ArgSize < IrqInfo.Size) { ReplyError(header, Errno.EINVAL, $"IRQ info argsz {request.ArgSize} is below 16"); return; }
        if (request.Index >= PciIrqCount) { ReplyError(header, Errno.EINVAL, $"no IRQ index {request.Index}"); return; }
        int index = (int)request.Index;
        int count = _interrupts.CountOf(index);
        // ERR and REQ report count 0: QEMU then registers no notifier for them.
        uint flags = count == 0 ? 0 : InterruptEventFds.FlagsOf(index);
        new IrqInfo(IrqInfo.Size, flags, request.Index, (uint)count).Write(_replyBuffer.AsSpan(MessageHeader.Size));
        Reply(header, IrqInfo.Size);
    }

    private void HandleSetIrqs(MessageHeader header, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds)
    {
        if (payload.Length < IrqSet.Size || IrqSet.Read(payload).ArgSize < IrqSet.Size)
        {
            foreach (int fd in fds) LibC.close(fd);
            ReplyError(header, Errno.EINVAL, "DEVICE_SET_IRQS shorter than 20 bytes or argsz below 20");
            return;
        }
        var set = IrqSet.Read(payload);
        int errno = _interrupts.Apply(set, payload[IrqSet.Size..], fds);
        if (errno != 0)
        {
            ReplyError(header, errno, $"SET_IRQS index {set.Index} start {set.Start} count {set.Count} flags 0x{set.Flags:x} with {fds.Length} fds refused");
            return;
        }
        Reply(header, 0);
    }

    private void HandleRegionRead(MessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < RegionAccess.Size) { ReplyError(header, Errno.EINVAL, "REGION_READ shorter than 16 bytes"); return; }
        var access = RegionAccess.Read(payload);
        if (!CheckAccess(header, access)) return;
        var reply = _replyBuffer.AsSpan(MessageHeader.Size);
        var data = reply.Slice(RegionAccess.Size, (int)access.Count);
        if (!ReadRegion((int)access.Region, access.Offset, data))
        {
            ReplyError(header, Errno.EINVAL, $"region {access.Region} refused a {access.Count}-byte read at 0x{access.Offset:x}");
            return;
        }
        access.Write(reply);
        Reply(header, RegionAccess.Size + (int)access.Count);
    }

    private void HandleRegionWrite(MessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < RegionAccess.Size) { ReplyError(header, Errno.EINVAL, "REGION_WRITE shorter than 16 bytes"); return; }
        var access = RegionAccess.Read(payload);
        if ((ulong)payload.Length - RegionAccess.Size < access.Count)
        {
            ReplyError(header, Errno.EINVAL, $"REGION_WRITE count {access.Count} exceeds the {payload.Length - RegionAccess.Size} data bytes sent");
            return;
        }
        if (!CheckAccess(header, access)) return;
        var data = payload.Slice(RegionAccess.Size, (int)access.Count);
        if (!WriteRegion((int)access.Region, access.Offset, data))
        {
            ReplyError(header, Errno.EINVAL, $"region {access.Region} refused a {access.Count}-byte write at 0x{access.Offset:x}");
            return;
        }
        access.Write(_replyBuffer.AsSpan(MessageHeader.Size));
        Reply(header, RegionAccess.Size);
    }

    private bool CheckAccess(MessageHeader header, RegionAccess access)
    {
        if (access.Region >= PciRegionCount) { ReplyError(header, Errno.EINVAL, $"no region {access.Region}"); return false; }
        if (access.Count == 0 || access.Count > (uint)_options.MaxDataTransferSize)
        {
            ReplyError(header, Errno.EINVAL, $"access count {access.Count} is not 1..{_options.MaxDataTransferSize}");
            return false;
        }
        ulong size = RegionSize((int)access.Region);
        if (access.Offset >= size || access.Count > size - access.Offset)
        {
            ReplyError(header, Errno.EINVAL, $"{access.Count} bytes at 0x{access.Offset:x} cross the end of region {access.Region} (size 0x{size:x})");
            return false;
        }
        return true;
    }

    private bool ReadRegion(int region, ulong offset, Span<byte> data) => region switch
    {
        <= Bar5RegionIndex => _function.ReadBar(region, offset, data),
        ConfigRegionIndex => _function.ReadConfig((int)offset, data),
        _ => false,
    };

    private bool WriteRegion(int region, ulong offset, ReadOnlySpan<byte> data) => region switch
    {
        <= Bar5RegionIndex => _function.WriteBar(region, offset, data),
        ConfigRegionIndex => _function.WriteConfig((int)offset, data),
        _ => false,
    };

    /// <summary>Region sizes: BARs by definition (0 for unimplemented and upper halves of 64-bit BARs), config 256, ROM and VGA absent.</summary>
    internal static ulong[] RegionSizes(PciFunctionDefinition definition)
    {
        var sizes = new ulong[PciRegionCount];
        for (int bar = Bar0RegionIndex; bar <= Bar5RegionIndex; bar++) sizes[bar] = definition.FindBar(bar)?.Size ?? 0;
        sizes[ConfigRegionIndex] = PciFunction.ConfigSpaceSize;
        return sizes;
    }

    // Looked up once per session: the definition's lookup is not allocation-free.
    private ulong RegionSize(int region) => _regionSizes[region];

    /// <summary>Sends the reply whose payload is already in the reply buffer; nothing for a No_reply command.</summary>
    private bool Reply(MessageHeader request, int payloadLength)
    {
        if (request.WantsNoReply) return true;
        int size = MessageHeader.Size + payloadLength;
        request.ToReply(size).Write(_replyBuffer);
        return Send(_replyBuffer.AsSpan(0, size));
    }

    private void ReplyError(MessageHeader request, int errno, string reason)
    {
        _refusals.Refused(request, errno, reason);
        if (request.WantsNoReply) return;
        Span<byte> reply = stackalloc byte[MessageHeader.Size];
        request.ToErrorReply(errno).Write(reply);
        Send(reply);
    }
}
