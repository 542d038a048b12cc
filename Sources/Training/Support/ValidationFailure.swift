/// A problem with the user's input (a file, an option, a configuration), reported as is.
public struct ValidationFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
