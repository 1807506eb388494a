namespace Polynic.Rig.Guests;

/// <summary>What a guest command produced.</summary>
/// <param name="ExitCode">The command's exit status in the guest shell.</param>
/// <param name="Output">Its standard output and standard error, interleaved as written.</param>
public sealed record CommandResult(int ExitCode, string Output)
{
    /// <summary>True when the command exited with status 0.</summary>
    public bool Succeeded => ExitCode == 0;
}
