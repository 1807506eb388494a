namespace Polynic.Rig;

/// <summary>A failure of the guest rig. The message is meant to be shown to a person as is.</summary>
public class RigException : Exception
{
    /// <summary>Creates the exception with a message for a person.</summary>
    public RigException(string message) : base(message) { }

    /// <summary>Creates the exception with a message for a person and the cause.</summary>
    public RigException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// The host cannot prepare or run guests (not root, no debootstrap, no mirror, no
/// /dev/net/tun, too little disk). The message is one sentence saying what to fix.
/// </summary>
public sealed class RigPrerequisiteException : RigException
{
    /// <summary>Creates the exception with the one-sentence explanation.</summary>
    public RigPrerequisiteException(string message) : base(message) { }
}

/// <summary>A guest failed: QEMU exited, or a wait timed out. The message carries the serial tail.</summary>
public class GuestException : RigException
{
    /// <summary>Creates the exception; <paramref name="message"/> already holds the serial tail.</summary>
    public GuestException(string message) : base(message) { }
}

/// <summary>The guest did not answer within the allowed time.</summary>
public sealed class GuestTimeoutException : GuestException
{
    /// <summary>Creates the exception; <paramref name="message"/> already holds the serial tail.</summary>
    public GuestTimeoutException(string message) : base(message) { }
}

/// <summary>A command run by <see cref="Guests.Guest.RunCheckedAsync"/> exited with a non-zero status.</summary>
public sealed class GuestCommandException : GuestException
{
    /// <summary>Creates the exception for the failed command.</summary>
    public GuestCommandException(string command, Guests.CommandResult result)
        : base($"Guest command `{command}` exited with status {result.ExitCode}; output:\n{result.Output}")
    {
        Command = command;
        Result = result;
    }

    /// <summary>The command line that failed.</summary>
    public string Command { get; }

    /// <summary>Its exit status and output.</summary>
    public Guests.CommandResult Result { get; }
}
