using Microsoft.Extensions.Logging;
using Polynic.Core.Interrupts;
using Polynic.Core.Pci;
using Polynic.Native;
using Polynic.Transport.VfioUser.Protocol;
using static Polynic.Transport.VfioUser.Protocol.VfioConstants;

namespace Polynic.Transport.VfioUser.Server;

/// <summary>
/// The interrupt side of one client session: the eventfds the client handed over with
/// VFIO_USER_DEVICE_SET_IRQS and the INTx mask state, as the <see cref="IInterruptSink"/> the
/// PCI core delivers to.
/// </summary>
/// <remarks>
/// The eventfds are written by an <see cref="InterruptSignaller"/>, never by the thread that
/// raises the interrupt (a client's eventfd may block a writer).
/// INTx follows VFIO's automasked level semantics (linux/vfio.h, VFIO_IRQ_INFO_AUTOMASKED):
/// when the pin is asserted and the line unmasked, the eventfd is signalled and the line
/// masks itself; the client's ACTION_UNMASK unmasks it, and if the pin is still asserted at
/// that moment it is signalled (and masked) again. Without the re-signal a guest stalls after
/// its first interrupt.
/// </remarks>
internal sealed class InterruptEventFds : IInterruptSink, IDisposable
{
    private readonly object _lock = new();
    private readonly int _intxCount;
    private readonly FileDescriptor?[] _msi;
    private readonly FileDescriptor?[] _msix;
    private readonly InterruptSignaller _signaller;
    private FileDescriptor? _intx;
    private bool _intxMasked;
    private bool _intxLevel;

    public InterruptEventFds(PciFunctionDefinition definition, string name, ILogger log)
    {
        _intxCount = definition.Identity.InterruptPin != 0 ? 1 : 0;
        _msi = new FileDescriptor?[definition.Msi?.Vectors ?? 0];
        _msix = new FileDescriptor?[definition.Msix?.Vectors ?? 0];
        _signaller = new InterruptSignaller(IntxLine + 1 + _msi.Length + _msix.Length, EventFdOf, name, log);
    }

    // The signaller's lines: INTx, then the MSI vectors, then the MSI-X vectors.
    private const int IntxLine = 0;
    private int MsiLine(int vector) => IntxLine + 1 + vector;
    private int MsixLine(int vector) => IntxLine + 1 + _msi.Length + vector;

    /// <summary>QEMU's client emulates the MSI-X table and PBA itself (hw/vfio-user/pci.c).</summary>
    public bool EmulatesMsixTable => true;

    /// <summary>Eventfd writes made so far, for diagnostics.</summary>
    public long SignalledCount => _signaller.SignalledCount;

    /// <summary>Vectors of each IRQ index, as reported by DEVICE_GET_IRQ_INFO.</summary>
    public int CountOf(int index) => index switch
    {
        IntxIrqIndex => _intxCount,
        MsiIrqIndex => _msi.Length,
        MsixIrqIndex => _msix.Length,
        _ => 0,
    };

    /// <summary>DEVICE_GET_IRQ_INFO flags of each index.</summary>
    public static uint FlagsOf(int index) => index switch
    {
        IntxIrqIndex => IrqInfoEventfd | IrqInfoMaskable | IrqInfoAutomasked,
        // MSI vectors are enabled as a block (as in vfio-pci). MSI-X vectors can be set one by
        // one at any time, so NORESIZE is left clear and QEMU adds vectors without a disable round.
        MsiIrqIndex => IrqInfoEventfd | IrqInfoNoResize,
        MsixIrqIndex => IrqInfoEventfd,
        _ => 0,
    };

    /// <inheritdoc/>
    public void SetIntx(bool asserted)
    {
        lock (_lock)
        {
            _intxLevel = asserted;
            if (asserted && !_intxMasked) FireIntxLocked();
        }
    }

    /// <inheritdoc/>
    public void SignalMsi(int vector, MsiMessage message)
    {
        if ((uint)vector < (uint)_msi.Length) _signaller.Post(MsiLine(vector));
    }

    /// <inheritdoc/>
    public void SignalMsix(int vector, MsiMessage message)
    {
        if ((uint)vector < (uint)_msix.Length) _signaller.Post(MsixLine(vector));
    }

    /// <summary>
    /// Applies one SET_IRQS command whose header fields have been checked for shape. Takes
    /// ownership of <paramref name="fds"/> (they are closed if not kept). Returns 0 or an errno.
    /// </summary>
    public int Apply(IrqSet set, ReadOnlySpan<byte> boolData, ReadOnlySpan<int> fds)
    {
        int kept = 0;
        try
        {
            int errno = ApplyCore(set, boolData, fds, ref kept);
            return errno;
        }
        finally
        {
            for (int i = kept; i < fds.Length; i++) LibC.close(fds[i]);
        }
    }

    /// <summary>Closes every eventfd (the client went away).</summary>
    public void Dispose()
    {
        _signaller.Dispose();
        lock (_lock)
        {
            Replace(ref _intx, null);
            for (int i = 0; i < _msi.Length; i++) Replace(ref _msi[i], null);
            for (int i = 0; i < _msix.Length; i++) Replace(ref _msix[i], null);
            _intxMasked = false;
        }
    }

    private int ApplyCore(IrqSet set, ReadOnlySpan<byte> boolData, ReadOnlySpan<int> fds, ref int kept)
    {
        int index = (int)set.Index;
        if (set.Index >= PciIrqCount) return Errno.EINVAL;
        uint data = set.DataKind, action = set.Action;
        if (!IsSingleBit(data) || !IsSingleBit(action) || (set.Flags & ~(IrqSetDataMask | IrqSetActionMaskAll)) != 0)
            return Errno.EINVAL;
        if (data != IrqSetDataEventfd && !fds.IsEmpty) return Errno.EINVAL;

        // Spec: "a count (and start) of 0, with data flags of VFIO_IRQ_SET_DATA_NONE disables
        // all interrupts of the index".
        if (set.Count == 0)
        {
            if (data != IrqSetDataNone || action != IrqSetActionTrigger) return Errno.EINVAL;
            DisableIndex(index);
            return 0;
        }
        if ((ulong)set.Start + set.Count > (ulong)CountOf(index)) return Errno.EINVAL;
        if (data == IrqSetDataBool && boolData.Length < set.Count) return Errno.EINVAL;

        if (data == IrqSetDataEventfd)
        {
            // MASK/UNMASK eventfds (KVM's resampling path) are not supported; QEMU then falls
            // back to unmasking with messages.
            if (action != IrqSetActionTrigger) return Errno.EINVAL;
            if (!fds.IsEmpty && fds.Length != set.Count) return Errno.EINVAL;
            foreach (int fd in fds)
                if (!IsEventFd(fd)) return Errno.EINVAL;
            AssignEventFds(index, (int)set.Start, (int)set.Count, fds);
            kept = fds.Length;
            return 0;
        }

        if (index != IntxIrqIndex && action != IrqSetActionTrigger) return Errno.EINVAL;
        lock (_lock)
        {
            for (int i = 0; i < set.Count; i++)
            {
                if (data == IrqSetDataBool && boolData[i] == 0) continue;
                int vector = (int)set.Start + i;
                switch (index, action)
                {
                    case (IntxIrqIndex, IrqSetActionMask): _intxMasked = true; break;
                    case (IntxIrqIndex, IrqSetActionUnmask):
                        _intxMasked = false;
                        if (_intxLevel) FireIntxLocked();
                        break;
                    case (IntxIrqIndex, IrqSetActionTrigger): FireIntxLocked(); break;
                    case (MsiIrqIndex, _): _signaller.Post(MsiLine(vector)); break;
                    case (MsixIrqIndex, _): _signaller.Post(MsixLine(vector)); break;
                    default: return Errno.EINVAL;
                }
            }
        }
        return 0;
    }

    private void AssignEventFds(int index, int start, int count, ReadOnlySpan<int> fds)
    {
        lock (_lock)
        {
            for (int i = 0; i < count; i++)
            {
                // No descriptors: "de-assigns the specified previously configured interrupts".
                var fd = fds.IsEmpty ? null : new FileDescriptor(fds[i]);
                switch (index)
                {
                    case IntxIrqIndex:
                        Replace(ref _intx, fd);
                        _intxMasked = false;
                        if (fd is not null && _intxLevel) FireIntxLocked();
                        break;
                    case MsiIrqIndex: Replace(ref _msi[start + i], fd); break;
                    case MsixIrqIndex: Replace(ref _msix[start + i], fd); break;
                    default: fd?.Dispose(); break;
                }
            }
        }
    }

    private void DisableIndex(int index)
    {
        lock (_lock)
        {
            switch (index)
            {
                case IntxIrqIndex: Replace(ref _intx, null); _intxMasked = false; break;
                case MsiIrqIndex: for (int i = 0; i < _msi.Length; i++) Replace(ref _msi[i], null); break;
                case MsixIrqIndex: for (int i = 0; i < _msix.Length; i++) Replace(ref _msix[i], null); break;
            }
        }
    }

    private void FireIntxLocked()
    {
        if (_intx is null) return;
        _signaller.Post(IntxLine);
        _intxMasked = true;
    }

    /// <summary>The eventfd of a signaller line now; the signaller leases it before writing.</summary>
    private FileDescriptor? EventFdOf(int line)
    {
        lock (_lock)
        {
            if (line == IntxLine) return _intx;
            int vector = line - MsiLine(0);
            return vector < _msi.Length ? _msi[vector] : _msix[vector - _msi.Length];
        }
    }

    private static void Replace(ref FileDescriptor? slot, FileDescriptor? value)
    {
        slot?.Dispose();
        slot = value;
    }

    private static bool IsSingleBit(uint value) => value != 0 && (value & (value - 1)) == 0;

    /// <summary>
    /// Only eventfds are accepted: a write to a pipe or socket from a hostile client could
    /// block the signalling thread forever.
    /// </summary>
    private static bool IsEventFd(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget == "anon_inode:[eventfd]";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
