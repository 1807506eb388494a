using Polynic.Core.Nic;

namespace Polynic.Fuzzing.Devices;

/// <summary>What one run did: its operations, what the device refused and sent, and the first broken invariant.</summary>
internal sealed class RunOutcome
{
    public long Operations;
    public readonly long[] Steps = new long[Enum.GetValues<StepKind>().Length];
    public long SlowSteps;
    public TimeSpan SlowestStep;
    public long SanityChecks, DmaReads, DmaWrites, RefusedOutsideRam, RefusedBusMasterOff, FramesSent, Messages, IntxEdges;
    public ulong Trace;
    /// <summary>The NIC's own counters (frames delivered, descriptor and DMA faults...), to see what the run reached.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> DeviceCounters = [];
    public (FuzzFailureKind Kind, long Operation, string Detail)? Failure;
}

/// <summary>
/// One run of the device fuzzer: a fresh machine and device from one seed, up to a number of
/// operations, with every invariant checked after every operation and a reset-and-sanity check
/// periodically and at the end. Runs on the campaign's watched thread; every operation is a
/// watchdog step.
/// </summary>
internal sealed class DeviceRun(DeviceTarget target, DeviceFuzzOptions options, ulong seed, StepWatchdog watchdog)
{
    private static readonly PortCapabilities[] PortOffloads =
        [PortCapabilities.None, PortCapabilities.Checksum, PortCapabilities.Segmentation, PortCapabilities.Checksum | PortCapabilities.Segmentation];

    private readonly RunOutcome _outcome = new();

    /// <summary>Runs up to <paramref name="operations"/> operations (fewer if <paramref name="timeUp"/> says so); null if the watchdog gave the run up.</summary>
    public RunOutcome? Execute(long operations, Func<bool> timeUp)
    {
        var random = new FuzzRandom(seed);
        FuzzedDevice? d = null;
        DeviceSteps? steps = null;
        watchdog.Begin(0);
        try
        {
            var clock = target.TakesClock ? new ManualClock() : null;
            d = new FuzzedDevice(target.Create(clock), options.RamSize, random.Pick<PortCapabilities>(PortOffloads), clock, options.MemoryLayer);
            steps = new DeviceSteps(d, target.Profile, target.Registers, random);
            if (random.Coin()) target.Profile.Initialize(d, random);
        }
        catch (Exception e)
        {
            _outcome.Failure = (FuzzFailureKind.Exception, 0, "setting up the run: " + Describe(e));
        }
        if (!watchdog.End(out var setup)) return null;
        if (_outcome.Failure is not null || !Healthy(d!, 0, setup, limit: CompositeLimit)) return Finish(d);

        for (long i = 0; i < operations; i++)
        {
            if ((i & 255) == 255 && timeUp()) break;
            StepKind kind = default;
            Exception? escaped = null;
            watchdog.Begin(i);
            try
            {
                kind = steps!.Step();
            }
            catch (Exception e)
            {
                escaped = e;
                kind = steps!.Current;
            }
            if (!watchdog.End(out var elapsed)) return null;
            _outcome.Operations = i + 1;
            _outcome.Steps[(int)kind]++;
            if (escaped is not null)
            {
                _outcome.Failure = (FuzzFailureKind.Exception, i + 1, $"{kind}: {Describe(escaped)}");
                break;
            }
            if (!Healthy(d!, i + 1, elapsed, kind)) break;
            if ((i + 1) % options.SanityInterval == 0 && i + 1 < operations)
            {
                var periodic = Sanity(d!, i + 1);
                if (periodic == SanityResult.Abandoned) return null;
                if (periodic == SanityResult.Failed) break;
            }
        }
        if (_outcome.Failure is null && Sanity(d!, _outcome.Operations) == SanityResult.Abandoned) return null;
        _outcome.Trace = steps!.Trace;
        return Finish(d);
    }

    private enum SanityResult { Passed, Failed, Abandoned }

    /// <summary>Reset, known registers, init, a frame each way.</summary>
    private SanityResult Sanity(FuzzedDevice d, long operation)
    {
        string? problem = null;
        watchdog.Begin(operation);
        try
        {
            problem = SanityCheck.Run(d, target.Profile);
        }
        catch (Exception e)
        {
            problem = "threw " + Describe(e);
        }
        if (!watchdog.End(out var elapsed)) return SanityResult.Abandoned;
        _outcome.SanityChecks++;
        if (problem is not null)
        {
            _outcome.Failure = (FuzzFailureKind.Sanity, operation, problem);
            return SanityResult.Failed;
        }
        return Healthy(d, operation, elapsed, what: "the sanity check", limit: CompositeLimit) ? SanityResult.Passed : SanityResult.Failed;
    }

    /// <summary>
    /// Setting up a run and the sanity check are dozens of register accesses and a machine's worth of
    /// allocation (the first also compiles the device's code paths): bounded as ten operations, at least a second.
    /// </summary>
    private TimeSpan CompositeLimit => TimeSpan.FromTicks(Math.Max(options.StepLimit.Ticks * 10, TimeSpan.TicksPerSecond));

    private bool Healthy(FuzzedDevice d, long operation, StepTime elapsed, StepKind? kind = null, string? what = null, TimeSpan? limit = null)
    {
        what ??= kind is { } k ? k.ToString() : "setting up the run";
        var bound = limit ?? options.StepLimit;
        if (elapsed.Wall > _outcome.SlowestStep) _outcome.SlowestStep = elapsed.Wall;
        if (watchdog.IsHang(elapsed, bound))
        {
            _outcome.Failure = (FuzzFailureKind.Hang, operation, elapsed.Wall > watchdog.AbandonAfter
                ? $"{what} was blocked for {elapsed.Wall.TotalMilliseconds:0} ms (limit {watchdog.AbandonAfter.TotalMilliseconds:0} ms)"
                : $"{what} computed for {elapsed.Cpu.TotalMilliseconds:0} ms of CPU time (limit {bound.TotalMilliseconds:0} ms; {elapsed.Wall.TotalMilliseconds:0} ms wall)");
            return false;
        }
        // Over the limit on the wall clock only: the thread waited for a core, the device did not spin.
        if (elapsed.Wall > bound) _outcome.SlowSteps++;
        if (d.Function.FailureReason is { } reason)
            _outcome.Failure = (FuzzFailureKind.TargetFailed, operation, $"{what}: the device failed: {reason}");
        else if (d.WorkFailure is { } work)
            _outcome.Failure = (FuzzFailureKind.TargetFailed, operation, $"{what}: the device failed: {work}");
        else if (d.Audit.Escaped > 0)
            _outcome.Failure = (FuzzFailureKind.OutOfRangeAccess, operation, $"{what}: {d.Audit.FirstEscape}");
        else if (d.Interrupts.Violation is { } interrupt)
            _outcome.Failure = (FuzzFailureKind.Invariant, operation, $"{what}: {interrupt}");
        else if (d.InterruptDisabled && d.Interrupts.IntxAsserted)
            _outcome.Failure = (FuzzFailureKind.Invariant, operation, $"{what}: INTx asserted while the command register's Interrupt Disable is set");
        else if (d.Port?.ContractViolation is { } port)
            _outcome.Failure = (FuzzFailureKind.Invariant, operation, $"{what}: {port}");
        return _outcome.Failure is null;
    }

    private RunOutcome Finish(FuzzedDevice? d)
    {
        if (d is null) return _outcome;
        _outcome.DmaReads = d.Audit.Reads;
        _outcome.DmaWrites = d.Audit.Writes;
        _outcome.RefusedOutsideRam = d.Audit.Refused;
        _outcome.RefusedBusMasterOff = d.Function.RefusedDmaCount;
        _outcome.FramesSent = d.Port?.Sent ?? 0;
        _outcome.Messages = d.Interrupts.Messages;
        _outcome.IntxEdges = d.Interrupts.IntxEdges;
        if (d.Nic is { } nic) _outcome.DeviceCounters = nic.Counters.Snapshot();
        if (d.Device is IDisposable disposable)
        {
            try { disposable.Dispose(); }
            catch (Exception e) { _outcome.Failure ??= (FuzzFailureKind.Exception, _outcome.Operations, "disposing the device: " + Describe(e)); }
        }
        return _outcome;
    }

    /// <summary>Exception type, message and the frame that threw: enough to find the bug from a report line.</summary>
    internal static string Describe(Exception e)
    {
        var frame = e.StackTrace?.Split('\n').FirstOrDefault()?.Trim();
        return $"{e.GetType().Name}: {e.Message}{(frame is null ? "" : $" ({frame})")}";
    }
}
