namespace Polynic.Management.Configuration;

/// <summary>One problem in a configuration file, located by line and column.</summary>
public sealed record ConfigurationError(string File, int Line, int Column, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>A configuration file was refused; <see cref="Errors"/> lists every problem found.</summary>
public sealed class ConfigurationException(IReadOnlyList<ConfigurationError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    /// <summary>Every problem, in document order.</summary>
    public IReadOnlyList<ConfigurationError> Errors { get; } = errors;
}
