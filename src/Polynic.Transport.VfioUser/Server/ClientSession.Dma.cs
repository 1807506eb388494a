using System.Buffers;
using Microsoft.Extensions.Logging;
using Polynic.Native;
using Polynic.Transport.VfioUser.Native;
using Polynic.Transport.VfioUser.Protocol;
using static Polynic.Transport.VfioUser.Protocol.VfioConstants;

namespace Polynic.Transport.VfioUser.Server;

internal sealed partial class ClientSession
{
    /// <summary>DMA windows must be whole pages of the size the server offers in <c>pgsizes</c>.</summary>
    internal const ulong DmaPageSize = 4096;

    private const int BatonRetryMilliseconds = 1;

    private void HandleDmaMap(MessageHeader header, ReadOnlySpan<byte> payload, ReadOnlySpan<int> fds)
    {
        using var fd = fds.Length == 1 ? new FileDescriptor(fds[0]) : null;
        if (fds.Length > 1)
        {
            foreach (int extra in fds) LibC.close(extra);
            ReplyError(header, Errno.EINVAL, $"DMA_MAP carries {fds.Length} file descriptors; at most 1 is allowed");
            return;
        }
        if (payload.Length < DmaMapRequest.Size) { ReplyError(header, Errno.EINVAL, "DMA_MAP shorter than 32 bytes"); return; }
        var map = DmaMapRequest.Read(payload);
        if (map.ArgSize < DmaMapRequest.Size) { ReplyError(header, Errno.EINVAL, $"DMA_MAP argsz {map.ArgSize} is below 32"); return; }
        if ((map.Flags & ~(DmaMapFlagRead | DmaMapFlagWrite)) != 0) { ReplyError(header, Errno.EINVAL, $"DMA_MAP flags 0x{map.Flags:x} unknown"); return; }
        if (map.Length == 0 || map.Address + map.Length < map.Address)
        {
            ReplyError(header, Errno.EINVAL, $"DMA_MAP of 0x{map.Length:x} bytes at 0x{map.Address:x} is empty or wraps");
            return;
        }
        if ((map.Address | map.Length) % DmaPageSize != 0)
        {
            ReplyError(header, Errno.EINVAL, $"DMA_MAP 0x{map.Address:x}+0x{map.Length:x} is not {DmaPageSize}-byte aligned");
            return;
        }

        bool readable = (map.Flags & DmaMapFlagRead) != 0, writable = (map.Flags & DmaMapFlagWrite) != 0;
        SharedMapping? mapping = null;
        if (fd is not null)
        {
            if (map.FileOffset + map.Length < map.FileOffset) { ReplyError(header, Errno.EINVAL, "DMA_MAP file offset + size wraps"); return; }
            if (_dma.RegionCount >= _options.MaxDmaMaps)
            {
                ReplyError(header, Errno.ENOSPC, $"DMA_MAP beyond max_dma_maps {_options.MaxDmaMaps}");
                return;
            }
            int mapErrno = MapOrFallBack(fd, map, writable, out mapping);
            if (mapErrno != 0)
            {
                ReplyError(header, mapErrno, $"cannot mmap 0x{map.Length:x} bytes at file offset 0x{map.FileOffset:x} (beyond the file's end, or mmap failed)");
                return;
            }
        }
        int errno = _dma.Add(new DmaRegion(map.Address, map.Length, readable, writable, mapping));
        if (errno != 0)
        {
            mapping?.Dispose();
            ReplyError(header, errno, $"DMA_MAP 0x{map.Address:x}+0x{map.Length:x} refused (overlap or too many windows)");
            return;
        }
        Reply(header, 0);
    }

    /// <summary>
    /// Maps the window's part of the client's file, or returns null to reach it through
    /// DMA_READ/WRITE messages instead: when its pages could vanish under the mapping (see
    /// <see cref="SharedMapping.WhyPagesCanVanish"/>) or the process's mapping budget is spent.
    /// Both cost this client speed, never the process. Returns 0 or the errno of a failed mmap
    /// (a range beyond the file's end, a file that cannot be mapped).
    /// </summary>
    private int MapOrFallBack(FileDescriptor fd, DmaMapRequest map, bool writable, out SharedMapping? mapping)
    {
        mapping = null;
        string? unsafeReason = SharedMapping.WhyPagesCanVanish(fd);
        if (unsafeReason is null)
        {
            int errno = SharedMapping.TryMap(fd, map.FileOffset, map.Length, writable, out mapping);
            if (errno != Errno.ENOSPC) return errno;
            unsafeReason = "the process's budget of mapped guest memory is spent";
        }
        if (!_warnedMessageDma)
        {
            _warnedMessageDma = true;
            _log.LogWarning("{Function}: reaching guest memory at 0x{Address:x} through DMA messages, which is much slower, because {Reason}; " +
                "give the VMM sealed memfd memory (QEMU: memory-backend-memfd with its default seal=on, without hugetlb) to have it mapped",
                _function.Name, map.Address, unsafeReason);
        }
        return 0;
    }

    private void HandleDmaUnmap(MessageHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < DmaUnmapRequest.Size) { ReplyError(header, Errno.EINVAL, "DMA_UNMAP shorter than 24 bytes"); return; }
        var unmap = DmaUnmapRequest.Read(payload);
        if (unmap.ArgSize < DmaUnmapRequest.Size) { ReplyError(header, Errno.EINVAL, $"DMA_UNMAP argsz {unmap.ArgSize} is below 24"); return; }
        if (unmap.Flags == DmaUnmapFlagAll)
        {
            if (unmap.Address != 0 || unmap.Length != 0) { ReplyError(header, Errno.EINVAL, "DMA_UNMAP of all windows must give address and size 0"); return; }
            _dma.RemoveAll();
        }
        else if (unmap.Flags != 0)
        {
            // Dirty-page bitmaps belong to migration, which is not offered.
            ReplyError(header, Errno.EINVAL, $"DMA_UNMAP flags 0x{unmap.Flags:x} not supported");
            return;
        }
        else if (!_dma.Remove(unmap.Address, unmap.Length))
        {
            ReplyError(header, Errno.ENOENT, $"no DMA window is exactly 0x{unmap.Address:x}+0x{unmap.Length:x}");
            return;
        }
        // Spec: "The server responds with the original DMA entry in the request."
        unmap.Write(_replyBuffer.AsSpan(MessageHeader.Size));
        Reply(header, DmaUnmapRequest.Size);
    }

    /// <summary>
    /// Moves the bytes of <paramref name="readInto"/> or <paramref name="writeFrom"/> between guest memory and the device through
    /// DMA_READ (<paramref name="write"/> false) or DMA_WRITE messages, in pieces no larger than
    /// either side's max_data_xfer_size. Never throws.
    /// </summary>
    private bool ExchangeDma(bool write, ulong address, Span<byte> readInto, ReadOnlySpan<byte> writeFrom)
    {
        try
        {
            int length = write ? writeFrom.Length : readInto.Length;
            int piece = Math.Min(_clientMaxTransfer, _options.MaxDataTransferSize);
            for (int done = 0; done < length; done += piece)
            {
                int count = Math.Min(piece, length - done);
                bool ok = write
                    ? ExchangeOne(Command.DmaWrite, address + (ulong)done, default, writeFrom.Slice(done, count))
                    : ExchangeOne(Command.DmaRead, address + (ulong)done, readInto.Slice(done, count), default);
                if (!ok) return false;
            }
            return true;
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Function}: message-based DMA failed", _function.Name);
            return false;
        }
    }

    private bool ExchangeOne(Command command, ulong address, Span<byte> readInto, ReadOnlySpan<byte> writeFrom)
    {
        if (_closing || !_versioned) return false;
        long deadline = Environment.TickCount64 + (long)_options.ServerRequestTimeout.TotalMilliseconds;
        ServerRequestTable.Slot? slot;
        while ((slot = _requests.TryAcquire()) is null)
        {
            // Every slot holder reads replies itself (AwaitReply), so slots free up without this thread's help.
            if (_closing) return false;
            if (!_requests.WaitForFreeSlot((int)Math.Clamp(deadline - Environment.TickCount64, 0, int.MaxValue))
                && Environment.TickCount64 >= deadline)
                return TimedOut(command, address);
        }

        bool isWrite = command == Command.DmaWrite;
        int count = isWrite ? writeFrom.Length : readInto.Length;
        int size = _dmaFormat.MessageSize(isWrite ? count : 0);
        byte[] request = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var message = request.AsSpan(0, size);
            message.Clear();
            new MessageHeader(slot.Id, command, (uint)size, MessageFlags.Command, 0).Write(message);
            _dmaFormat.WriteFixedPart(message, address, count);
            if (isWrite) writeFrom.CopyTo(message[_dmaFormat.DataOffset..]);
            if (!Send(message)) return false;

            AwaitReply(slot, deadline);
            if (!slot.Completed) return TimedOut(command, address);
            if (slot.Failed) return false;
            var reply = slot.ReplyMessage;
            var replyHeader = MessageHeader.Read(reply);
            if (replyHeader.IsError)
            {
                _log.LogWarning("{Function}: client refused {Command} of {Count} bytes at 0x{Address:x} with {Errno}",
                    _function.Name, command, count, address, Errno.Describe((int)replyHeader.Error));
                return false;
            }
            if (isWrite) return true;
            if (reply.Length < _dmaFormat.DataOffset + count || _dmaFormat.ReadCount(reply) != (ulong)count)
            {
                _log.LogWarning("{Function}: DMA_READ reply of {Size} bytes does not carry the {Count} bytes asked for", _function.Name, reply.Length, count);
                return false;
            }
            reply.Slice(_dmaFormat.DataOffset, count).CopyTo(readInto);
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(request);
            _requests.Release(slot);
        }
    }

    /// <summary>
    /// Waits for the reply to <paramref name="slot"/>'s request until <paramref name="deadline"/>:
    /// while the reader thread reads the socket it will deliver the reply; whenever it does not
    /// (it is handling a command, perhaps waiting for the lock this thread holds), this thread
    /// takes the read baton and reads the socket itself.
    /// </summary>
    private void AwaitReply(ServerRequestTable.Slot slot, long deadline)
    {
        while (!slot.Completed && !_closing)
        {
            if (Monitor.TryEnter(_readBaton))
            {
                try
                {
                    if (!slot.Completed && !PumpOnce(deadline)) return;
                }
                finally
                {
                    Monitor.Exit(_readBaton);
                }
            }
            else
            {
                long remaining = deadline - Environment.TickCount64;
                if (remaining <= 0) return;
                // Short, so a reader that stops reading to handle a command hands over quickly.
                slot.Done.Wait((int)Math.Min(remaining, BatonRetryMilliseconds));
            }
        }
    }

    /// <summary>
    /// A client that leaves a DMA request unanswered past the timeout has broken the protocol
    /// (or is gone); it is disconnected, so its device's next accesses fail at once instead of
    /// each waiting the whole timeout again.
    /// </summary>
    private bool TimedOut(Command command, ulong address)
    {
        if (!_closing)
        {
            _log.LogWarning("{Function}: disconnecting client: {Command} at 0x{Address:x} got no reply within {Timeout}",
                _function.Name, command, address, _options.ServerRequestTimeout);
            BeginClose();
        }
        return false;
    }

    /// <summary>The session as the DMA space's fallback for windows without a file descriptor.</summary>
    private sealed class Messenger(ClientSession session) : IDmaMessenger
    {
        public bool TryRead(ulong address, Span<byte> destination) => session.ExchangeDma(false, address, destination, default);

        public bool TryWrite(ulong address, ReadOnlySpan<byte> source) => session.ExchangeDma(true, address, default, source);
    }
}
