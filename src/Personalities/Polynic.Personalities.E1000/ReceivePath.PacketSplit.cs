using System.Buffers.Binary;
using Polynic.Core.Memory;
using static Polynic.Personalities.E1000.E1000eRegisters;
using static Polynic.Personalities.E1000.E1000Registers;

namespace Polynic.Personalities.E1000;

/// <summary>
/// The 82574's packet-split receive descriptors (datasheet 7.1.4.3, RCTL.DTYP = 01 with RFCTL.EXSTEN;
/// Linux e1000e uses them for jumbo MTUs): 32 bytes naming four buffers whose sizes PSRCTL gives
/// (BSIZE0 in 128-byte units, BSIZE1-3 in KiB). A frame fills buffer 0, then 1, 2 and 3, and spills
/// into further descriptors only if they cannot hold it. RDH and RDT still count 16-byte units. The header is not split at the L4/L5
/// boundary (HDRSP stays 0, which e1000e_clean_rx_irq_ps accepts: buffer 0 then holds the first
/// bytes of the frame).
/// </summary>
internal sealed partial class ReceivePath
{
    /// <summary>Bytes of a packet-split descriptor.</summary>
    public const int PacketSplitDescriptorSize = 32;

    private const int SplitBuffers = 4;
    private readonly int[] _splitSizes = new int[SplitBuffers];
    private readonly int[] _splitLengths = new int[SplitBuffers];
    private readonly byte[] _splitWriteBack = new byte[PacketSplitDescriptorSize];

    private Outcome DeliverSplit(ReadOnlySpan<byte> data, uint rctl, byte status, byte errors, ushort special)
    {
        var regs = _device.Registers;
        uint psrctl = regs.Get(Psrctl);
        _splitSizes[0] = (int)(psrctl & 0x7F) * 128;
        _splitSizes[1] = (int)((psrctl >> 8) & 0x3F) * 1024;
        _splitSizes[2] = (int)((psrctl >> 16) & 0x3F) * 1024;
        _splitSizes[3] = (int)((psrctl >> 24) & 0x3F) * 1024;
        int capacity = _splitSizes[0] + _splitSizes[1] + _splitSizes[2] + _splitSizes[3];
        if (capacity == 0)
        {
            // A guest mistake (QEMU stops the VM on it): no buffer to put the frame in.
            Fault("packet split buffer sizes are all zero", psrctl);
            return Outcome.Failed;
        }
        if (!SyncRing(out uint available) || available * (long)capacity < data.Length) return Outcome.NoDescriptors;

        var dma = _device.Dma;
        Span<byte> raw = _descriptor;
        Span<byte> writeBack = _splitWriteBack;
        int offset = 0;
        var budget = _ring.BeginPass();
        // Bounded by the ring size and the available-descriptor check; the inner loop by the four buffers.
        while (offset < data.Length && budget.TryTake())
        {
            int piece = Math.Min(capacity, data.Length - offset);
            bool last = offset + piece == data.Length;
            if (!_ring.TryReadHead(dma, raw))
            {
                Fault("receive descriptor outside guest memory", _ring.Base.Value + (ulong)_ring.Head * PacketSplitDescriptorSize);
                regs.Set(Rdh, _ring.Head * 2);
                return Outcome.Failed;
            }
            byte descriptorErrors = last ? errors : (byte)0;
            int written = 0;
            for (int b = 0; b < SplitBuffers; b++)
            {
                int length = Math.Min(_splitSizes[b], piece - written);
                _splitLengths[b] = length;
                if (length == 0) continue;
                ulong address = BinaryPrimitives.ReadUInt64LittleEndian(raw[(8 * b)..]);
                if (address == 0 || !dma.TryWrite(new GuestAddress(address), data.Slice(offset + written, length)))
                {
                    _device.Counters.DmaFaults++;
                    _device.Faults.Warn(_device.Log, "receive buffer outside guest memory", address);
                    descriptorErrors |= ErrorRxe;
                }
                written += length;
            }

            // Write-back: MRQ and RSS (0), status/errors, length of buffer 0, VLAN, header status
            // (no split), lengths of buffers 1-3, reserved.
            writeBack.Clear();
            byte pieceStatus = (byte)(status | (last ? StatusEop : 0));
            BinaryPrimitives.WriteUInt32LittleEndian(writeBack[8..], pieceStatus | (uint)descriptorErrors << 24);
            BinaryPrimitives.WriteUInt16LittleEndian(writeBack[12..], (ushort)_splitLengths[0]);
            BinaryPrimitives.WriteUInt16LittleEndian(writeBack[14..], special);
            for (int b = 1; b < SplitBuffers; b++)
                BinaryPrimitives.WriteUInt16LittleEndian(writeBack[(16 + 2 * b)..], (ushort)_splitLengths[b]);
            if (!_ring.TryWriteHead(dma, writeBack))
                Fault("receive descriptor write-back failed", _ring.Base.Value + (ulong)_ring.Head * PacketSplitDescriptorSize);
            regs.Set(Rdh, _ring.Advance() * 2);   // in 16-byte units, as SyncRing reads it
            offset += piece;
        }

        CheckThreshold(rctl);
        return Outcome.Delivered;
    }
}
